using System.Collections.Concurrent;
using System.Text;
using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Storage;
using KubeBrain.Grains.Storage.Postgres;
using KubeBrain.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Npgsql;
using Xunit;

namespace KubeBrain.Tests.Storage;

/// <summary>
/// The PostgreSQL store when the database goes away: an outage of the server under load, and connections lost
/// at the moment of an append, cut by a proxy in between. An append returns only if it committed and throws
/// <see cref="StoreUnavailableException"/> only if it did not; the store works again by itself afterwards.
/// </summary>
public sealed class PostgresFailureTests : IDisposable
{
    private static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(10);

    private const string Category = "KubeBrain.Grains.Storage.Postgres.PostgresMvccStore";
    private const int OutcomeUnknown = 3001;
    private const int ResolveAttemptFailed = 3002;
    private const int Resolved = 3003;
    private const int EndedSession = 3004;

    private static readonly KeySpan All = new([], []);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly CancellationToken None = CancellationToken.None;

    private readonly LogRecorder _logs = new();
    private readonly ILoggerFactory _loggerFactory;

    public PostgresFailureTests() => _loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(_logs));

    public void Dispose() => _loggerFactory.Dispose();

    /// <summary>
    /// A writer appends batches and a reader reads while the server is stopped and started again. While it is down
    /// reads fail as unavailable; every append either commits or fails as unavailable, and one that failed is
    /// retried with the same revisions but another value, so the log shows which attempt committed. Afterwards the
    /// same store object works again, the revisions are dense and each holds the acknowledged attempt. A second,
    /// quiet outage (a crash of the server) shows an append failing at once and succeeding after the restart: the
    /// failed read before it has dropped the pooled connections, so the append finds the server gone before it
    /// sends anything (on a dead pooled connection it could not know whether its request had arrived, and would
    /// wait for the server to come back to find out).
    /// </summary>
    [Fact]
    public async Task AnOutageFailsCallsAsUnavailable_LosesNoAcknowledgedAppend_AndTheStoreRecoversByItself()
    {
        using var postgres = PostgresProcess.Start();
        await using var store = NewStore(postgres.CreateDatabase());
        var epoch = (await store.OpenAsync(LeaseDuration, None)).Epoch;
        var acknowledged = new ConcurrentDictionary<long, string>();
        var current = 1L;
        var batchId = 0L;
        var unavailableReads = 0;
        var unavailableAppends = 0;
        async Task<bool> TryAppendAsync(int revisions)
        {
            var batch = Batch(epoch, ++batchId, current + 1, revisions);
            try
            {
                await store.AppendAsync(batch, None);
            }
            catch (StoreUnavailableException)
            {
                Interlocked.Increment(ref unavailableAppends);
                return false;
            }
            foreach (var row in batch.Rows)
            {
                acknowledged[row.Revision] = Encoding.UTF8.GetString(row.Value);
            }
            current = batch.LastRevision;
            return true;
        }
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                await TryAppendAsync(1 + (n % 3));
            }
        });
        var reader = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    Assert.Equal(KvStatus.Ok, (await store.RangeAsync(All, 0, 5, false, None)).Status);
                }
                catch (StoreUnavailableException)
                {
                    Interlocked.Increment(ref unavailableReads);
                    await Task.Delay(20);
                }
            }
        });

        await WaitUntilAsync(() => acknowledged.Count >= 30);
        postgres.StopServer();
        await WaitUntilAsync(() => Volatile.Read(ref unavailableReads) >= 3);
        await Assert.ThrowsAsync<StoreUnavailableException>(() => store.RangeAsync(All, 0, 0, false, None));
        await Assert.ThrowsAsync<StoreUnavailableException>(() => store.ListLeasesAsync(None));
        postgres.StartServer();
        var afterRestart = acknowledged.Count;
        await WaitUntilAsync(() => acknowledged.Count >= afterRestart + 30);
        await stop.CancelAsync();
        await Task.WhenAll(writer, reader);

        var log = await store.ReadRevisionsAsync(2, int.MaxValue, None);
        Assert.Equal(LongRange(2, current), log.Rows.Select(row => row.Revision));
        Assert.Equal(LongRange(2, current).Select(revision => acknowledged[revision]), log.Rows.Select(row => Encoding.UTF8.GetString(row.Value)));
        Assert.Equal(current, (await store.RangeAsync(All, 0, 0, true, None)).Count + 1);

        postgres.StopServer(immediate: true);
        await Assert.ThrowsAsync<StoreUnavailableException>(() => store.ReadRevisionsAsync(2, 10, None));
        var before = Volatile.Read(ref unavailableAppends);
        Assert.False(await TryAppendAsync(2));
        Assert.Equal(before + 1, unavailableAppends);
        postgres.StartServer();
        Assert.True(await TryAppendAsync(2));
        Assert.Equal(LongRange(2, current), (await store.ReadRevisionsAsync(2, int.MaxValue, None)).Rows.Select(row => row.Revision));
    }

    /// <summary>
    /// The server commits an append but its answer never reaches the store, and for a while no new connection
    /// can be made: the store retries the resolution until it can, finds the batch committed and returns normally.
    /// </summary>
    [Fact]
    public async Task AnAppendWhoseAnswerIsLostIsResolvedAsCommitted()
    {
        using var shared = SharedPostgres.CreateDatabase();
        var database = shared.ConnectionString;
        await using var proxied = await OpenThroughProxyAsync(database);
        var (proxy, store) = (proxied.Proxy, proxied.Store);
        var batch = Batch(proxied.Epoch, 1, 2, 3);

        proxy.HoldResponses();
        var append = store.AppendAsync(batch, None);
        await WaitUntilAsync(async () => (await MetaAsync(database)).Current == batch.LastRevision);
        proxy.RefuseNew = true;
        proxy.CutClients();
        await _logs.WaitForAsync(Category, ResolveAttemptFailed, 2, Wait);
        Assert.False(append.IsCompleted);
        proxy.RefuseNew = false;

        await append.WaitAsync(Wait);
        Assert.Equal((1, 1), (_logs.Count(Category, OutcomeUnknown), _logs.Count(Category, Resolved)));
        Assert.Equal(Show.Rows(batch.Rows), Show.Rows((await store.ReadRevisionsAsync(2, 10, None)).Rows));
        await store.AppendAsync(Batch(proxied.Epoch, 2, 5, 1), None);
        Assert.Equal((5L, 2L), await MetaAsync(database));
    }

    /// <summary>
    /// The connection is lost while the append is on its way to the server: the store finds it not committed and
    /// says so. The next attempt at the same revisions is lost the same way. When both lost requests reach the
    /// server after all, late, neither commits, because each resolution recorded its batch id and ids only grow.
    /// The same rows then append normally under a new batch id.
    /// </summary>
    [Fact]
    public async Task AnAppendLostOnItsWayIsResolvedAsNotCommitted_AndCannotCommitLate()
    {
        using var shared = SharedPostgres.CreateDatabase();
        var database = shared.ConnectionString;
        await using var proxied = await OpenThroughProxyAsync(database);
        var (proxy, store) = (proxied.Proxy, proxied.Store);
        var batch = Batch(proxied.Epoch, 1, 2, 3);

        proxy.HoldRequests();
        var append = store.AppendAsync(batch, None);
        await proxy.WaitForHeldPostgresRequestAsync(Wait);
        proxy.CutClients();

        await Assert.ThrowsAsync<StoreUnavailableException>(() => append.WaitAsync(Wait));
        Assert.Equal((1, 1), (_logs.Count(Category, OutcomeUnknown), _logs.Count(Category, Resolved)));
        proxy.HoldRequests();
        var again = store.AppendAsync(batch with { BatchId = 2 }, None);
        await proxy.WaitForHeldPostgresRequestAsync(Wait);
        proxy.CutClients();
        await Assert.ThrowsAsync<StoreUnavailableException>(() => again.WaitAsync(Wait));
        await proxy.DeliverHeldRequestsAsync(Wait);
        Assert.Equal((1L, 2L), await MetaAsync(database));
        Assert.Empty((await store.ReadRevisionsAsync(2, 10, None)).Rows);
        await store.AppendAsync(batch with { BatchId = 3 }, None);
        Assert.Equal(Show.Rows(batch.Rows), Show.Rows((await store.ReadRevisionsAsync(2, 10, None)).Rows));
    }

    /// <summary>
    /// A synchronous standby that never answers keeps the append's session waiting after its local commit, holding
    /// the metadata row. When the store loses that connection, its resolution times out on the row lock, ends the
    /// old session (which makes the local commit visible) and finds the batch committed; it returns only once its
    /// own resolving transaction, which follows the batch, has been confirmed too.
    /// </summary>
    [Fact]
    public async Task AnAppendWhoseSessionLingersIsResolvedByEndingThatSession()
    {
        using var postgres = PostgresProcess.Start();
        var database = postgres.CreateDatabase();
        await using var proxied = await OpenThroughProxyAsync(database);
        var (proxy, store) = (proxied.Proxy, proxied.Store);
        var batch = Batch(proxied.Epoch, 1, 2, 2);
        await ExecuteAsync(postgres.ConnectionString, "ALTER SYSTEM SET synchronous_standby_names = 'nobody'", "SELECT pg_reload_conf()");
        await WaitUntilAsync(() => ProbeCommitWaitsForTheStandbyAsync(postgres.ConnectionString));

        var append = store.AppendAsync(batch, None);
        await WaitUntilAsync(async () => await CountAsync(postgres.ConnectionString, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'") == 1);
        proxy.CutClients();
        await _logs.WaitForAsync(Category, EndedSession, 1, Wait);
        Assert.False(append.IsCompleted);
        await ExecuteAsync(postgres.ConnectionString, "ALTER SYSTEM RESET synchronous_standby_names", "SELECT pg_reload_conf()");

        await append.WaitAsync(Wait);
        Assert.Equal((3L, 1L), await MetaAsync(database));
        Assert.Equal(Show.Rows(batch.Rows), Show.Rows((await store.ReadRevisionsAsync(2, 10, None)).Rows));
    }

    private PostgresMvccStore NewStore(string connectionString) =>
        new(new PostgresStoreOptions { ConnectionString = connectionString, MaxPoolSize = 4 }, _loggerFactory.CreateLogger<PostgresMvccStore>());

    /// <summary>A store on <paramref name="database"/> through a proxy of its own, opened.</summary>
    private async Task<ProxiedStore> OpenThroughProxyAsync(string database)
    {
        var target = new NpgsqlConnectionStringBuilder(database);
        var proxy = new TcpProxy(target.Host!, target.Port);
        var store = NewStore(new NpgsqlConnectionStringBuilder(database) { Host = "127.0.0.1", Port = proxy.Port }.ConnectionString);
        try
        {
            return new ProxiedStore(proxy, store, (await store.OpenAsync(LeaseDuration, None)).Epoch);
        }
        catch
        {
            await store.DisposeAsync();
            await proxy.DisposeAsync();
            throw;
        }
    }

    /// <summary>Revisions first.. of one row each, a key per revision and the batch id in the value.</summary>
    private static CommitBatch Batch(long epoch, long batchId, long first, int revisions)
    {
        var rows = new List<StoredRow>(revisions);
        for (var revision = first; revision < first + revisions; revision++)
        {
            rows.Add(new StoredRow(
                revision, 0, LogModel.Bytes($"/registry/test/k{revision}"), revision, 1, 0, LogModel.Bytes($"{revision}@{batchId}"), false, 0, LogModel.RangeId, LogModel.RangeEpoch));
        }
        return new CommitBatch(epoch, batchId, first, first + revisions - 1, rows);
    }

    private static IEnumerable<long> LongRange(long from, long to)
    {
        for (var i = from; i <= to; i++)
        {
            yield return i;
        }
    }

    /// <summary>The metadata row's current revision and last batch id, read around the proxy.</summary>
    private static async Task<(long Current, long LastBatchId)> MetaAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT current_revision, last_batch_id FROM meta", connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>
    /// Whether a commit now waits for the synchronous standby, found with a commit of its own that writes to the WAL (a
    /// commit that wrote nothing never waits), cancelled once seen waiting (it has committed locally by then). The
    /// reloaded setting reaches each session before its next statement, but a commit waits only once the checkpointer
    /// has taken the setting in too, which can be later.
    /// </summary>
    private static async Task<bool> ProbeCommitWaitsForTheStandbyAsync(string connectionString)
    {
        await using var probe = new NpgsqlConnection(connectionString);
        await probe.OpenAsync();
        var pid = probe.ProcessID;
        await using var command = new NpgsqlCommand("SELECT pg_logical_emit_message(true, 'probe', '')", probe);
        var commit = command.ExecuteScalarAsync();
        await WaitUntilAsync(async () =>
            commit.IsCompleted || await CountAsync(connectionString, $"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid} AND wait_event = 'SyncRep'") == 1);
        if (commit.IsCompleted)
        {
            await commit;
            return false;
        }
        await ExecuteAsync(connectionString, $"SELECT pg_cancel_backend({pid})");
        await commit;
        return true;
    }

    private static async Task<long> CountAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task ExecuteAsync(string connectionString, params string[] statements)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        foreach (var sql in statements)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }
    }

    private static Task WaitUntilAsync(Func<bool> condition) => WaitUntilAsync(() => Task.FromResult(condition()));

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the condition did not hold in time");
            }
            await Task.Delay(10);
        }
    }

    private sealed record ProxiedStore(TcpProxy Proxy, PostgresMvccStore Store, long Epoch) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Store.DisposeAsync();
            await Proxy.DisposeAsync();
        }
    }
}

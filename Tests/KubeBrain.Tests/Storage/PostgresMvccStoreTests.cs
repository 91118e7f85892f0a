using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Storage;
using KubeBrain.Grains.Storage.Postgres;
using KubeBrain.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Xunit;

namespace KubeBrain.Tests.Storage;

public sealed class PostgresMvccStoreTests : PersistentMvccStoreConformanceTests
{
    /// <summary>
    /// The log's indexes: its (revision, sub) key and (key group, revision), where an append adds at the end of each
    /// (an index on keys took an insert at a random place per row), and the rows that attach a lease.
    /// </summary>
    private const string IndexesOfTheLog = "SELECT indexname FROM pg_indexes WHERE tablename = 'kv_log' ORDER BY indexname";

    private static readonly List<string> LogIndexes = ["kv_log_key_group", "kv_log_leased", "kv_log_pkey"];

    private readonly TestDatabase _database = SharedPostgres.CreateDatabase();

    protected override IMvccStore CreateStore() =>
        new PostgresMvccStore(new PostgresStoreOptions { ConnectionString = _database.ConnectionString }, NullLogger<PostgresMvccStore>.Instance);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _database.Dispose();
    }

    /// <summary>The store of a silo without the sequencer is migrated by its host but never opened: it reads, and only reads.</summary>
    [Fact]
    public async Task AMigratedStoreThatIsNotOpenServesReadsButRefusesWrites()
    {
        Log.Revision().Put("/a", "1");
        await AppendLogAsync();
        var other = (PostgresMvccStore)NewStore();

        Assert.Empty(await other.MigrateAsync(None));

        Assert.Equal("/a", System.Text.Encoding.UTF8.GetString((await other.RangeAsync(new KeySpan([], []), 0, 0, false, None)).Kvs.Single().Key));
        Assert.Equal(2, (await other.ReadRevisionsAsync(1, 10, None)).Rows.Single().Revision);
        await Assert.ThrowsAsync<InvalidOperationException>(() => other.ClaimRangeAsync(1, "default", None));
    }

    [Fact]
    public async Task TheLogIsIndexedByKeyGroup_AndAReadOfOneGroupSearchesThatIndex()
    {
        Assert.Equal(LogIndexes, await _database.QueryAsync(IndexesOfTheLog));

        var plan = await ExplainReadOfPodsAsync("-c enable_seqscan=off", revision: 5);

        Assert.Contains(plan, line => line.Contains("kv_log_key_group", StringComparison.Ordinal));
    }

    /// <summary>A database at schema version 2, indexed by key, gets the key-group index, and its history reads the same.</summary>
    [Fact]
    public async Task AVersion2SchemaIsMigratedAndKeepsItsHistory()
    {
        await WriteRandomHistoryAsync(seed: 5, revisions: 20);
        var before = await ReadEverythingFromAsync(0);
        await _database.QueryAsync("DROP INDEX kv_log_key_group");
        await _database.QueryAsync("CREATE INDEX kv_log_key_revision ON kv_log (key, revision DESC)");
        await _database.QueryAsync("DELETE FROM schema_migrations WHERE version > 2");

        Assert.Equal(["0003_index_log_by_key_group", "0004_keep_rows_inline"], await ((PostgresMvccStore)NewStore()).MigrateAsync(None));
        await ReopenAsync();

        Assert.Equal(LogIndexes, await _database.QueryAsync(IndexesOfTheLog));
        Assert.Equal(before, await ReadEverythingFromAsync(0));
    }

    /// <summary>
    /// Rows of values up to about 8 KB stay in the log's heap: nothing of 1–7 KiB values, random so that they do not
    /// compress, reaches the TOAST table; a value of 16 KiB does.
    /// </summary>
    [Fact]
    public async Task RowsOfUpTo8KBStayInTheLog()
    {
        var random = new Random(8);
        for (var size = 1; size <= 7; size++)
        {
            var value = new byte[size * 1024];
            random.NextBytes(value);
            Log.Revision().Put(LogModel.Bytes($"/registry/configmaps/c{size}"), value);
        }
        await AppendLogAsync();
        const string Toasted = "SELECT (SELECT count(*) FROM pg_class AS t, pg_class AS l WHERE l.relname = 'kv_log' AND t.oid = l.reltoastrelid AND pg_relation_size(t.oid) > 0)::text";

        Assert.Equal(["0"], await _database.QueryAsync(Toasted));

        var large = new byte[16 * 1024];
        random.NextBytes(large);
        Log.Revision().Put(LogModel.Bytes("/registry/configmaps/large"), large);
        await AppendLogAsync();

        Assert.Equal(["1"], await _database.QueryAsync(Toasted));
        await AssertReadMatchesModelAsync(new KeySpan([], []), Log.CurrentRevision);
    }

    /// <summary>
    /// Every connection of the store's pool prepares the append when it is opened, and appends run as that
    /// statement: on a pool of one connection, after three appends, one prepared statement inserts into the log
    /// and it has been run three times; the rows are in the log. The connection commits synchronously and does not
    /// compile statements with PostgreSQL's JIT.
    /// </summary>
    [Fact]
    public async Task AppendsRunAsTheStatementTheirConnectionPrepared()
    {
        await Store.ReleaseLeaseAsync(Opened.Epoch, None);
        await using var pool = PostgresMvccStore.CreatePool(
            PostgresMvccStore.Connections(new PostgresStoreOptions { ConnectionString = _database.ConnectionString, MaxPoolSize = 1 }));
        var writer = new PostgresLogWriter(pool, NullLogger.Instance);
        var epoch = (await writer.TakeEpochAsync(LeaseDuration, None)).Epoch;

        for (var i = 1; i <= 3; i++)
        {
            Log.Revision().Put($"/registry/pods/p{i}", $"{i}");
            await writer.AppendAsync(Log.TakeBatch(epoch), None);
        }

        await using (var connection = await pool.OpenConnectionAsync())
        await using (var prepared = new NpgsqlCommand(
            "SELECT format('%s statement(s), run %s time(s)', count(*), sum(generic_plans + custom_plans)) FROM pg_prepared_statements WHERE statement LIKE '%INSERT INTO kv_log%'",
            connection))
        {
            Assert.Equal("1 statement(s), run 3 time(s)", await prepared.ExecuteScalarAsync());
        }
        await using (var connection = await pool.OpenConnectionAsync())
        await using (var settings = new NpgsqlCommand("SELECT current_setting('synchronous_commit') || ', jit ' || current_setting('jit')", connection))
        {
            Assert.Equal("on, jit off", await settings.ExecuteScalarAsync());
        }
        Assert.Equal(["3"], await _database.QueryAsync("SELECT count(*)::text FROM kv_log WHERE key LIKE '/registry/pods/p%'"));
    }

    /// <summary>
    /// A read of values looks each one up by the log's primary key, whatever PostgreSQL knows of the log. Here the
    /// log has not been analyzed yet (as in a new store's first minute); without statistics the planner takes every
    /// revision for 0.5 % of the log, and for a batch of 100 values joining them to the log by hash, over a scan of
    /// all of it, looked cheaper than 100 lookups.
    /// </summary>
    [Fact]
    public async Task AValueReadLooksEachValueUpByThePrimaryKey_BeforeTheLogIsAnalyzed()
    {
        await AppendUnanalyzedLogAsync();

        var plan = await ExplainAsync(
            PostgresKeyQueries.ReadValues,
            "",
            new NpgsqlParameter<long[]>("revisions", [.. Enumerable.Range(0, 100).Select(i => 2L + (i * 20))]),
            new NpgsqlParameter<byte[][]>("keys", [.. Enumerable.Range(0, 100).Select(i => LogModel.Bytes($"/registry/pods/p{i * 20 % 1000}"))]));

        Assert.Contains(plan, line => line.Contains("kv_log_pkey", StringComparison.Ordinal));
        Assert.DoesNotContain(plan, line => line.Contains("Seq Scan on kv_log", StringComparison.Ordinal));
    }

    /// <summary>
    /// A purge batch finds the versions it deletes by the primary key, whatever PostgreSQL knows of the log: before the
    /// log was analyzed, the planner sorted all of it to merge-join the batch's candidates with it.
    /// </summary>
    [Fact]
    public async Task APurgeBatchLooksVersionsUpByThePrimaryKey_BeforeTheLogIsAnalyzed()
    {
        await AppendUnanalyzedLogAsync();

        var plan = await ExplainAsync(
            PostgresLogWriter.Fenced(PostgresLogWriter.PurgeSql),
            "",
            new NpgsqlParameter<long> { TypedValue = Opened.Epoch },
            new NpgsqlParameter<long> { TypedValue = 0 },
            new NpgsqlParameter<long> { TypedValue = Log.CurrentRevision },
            new NpgsqlParameter<int> { TypedValue = 1000 });

        Assert.DoesNotContain(plan, line => line.Contains("Seq Scan on kv_log", StringComparison.Ordinal));
    }

    /// <summary>
    /// A read of one key group's rows searches the group's index and looks the values of the page up by the primary
    /// key, whatever PostgreSQL knows of the log.
    /// </summary>
    [Fact]
    public async Task AReadOfOneGroupScansNothingElse_BeforeTheLogIsAnalyzed()
    {
        await AppendUnanalyzedLogAsync();

        var plan = await ExplainReadOfPodsAsync("", Log.CurrentRevision);

        Assert.Contains(plan, line => line.Contains("kv_log_key_group", StringComparison.Ordinal));
        Assert.DoesNotContain(plan, line => line.Contains("Seq Scan on kv_log", StringComparison.Ordinal));
    }

    /// <summary>
    /// Appends two versions of each of 1,000 pods with 1 KiB values, in two batches, and checks that PostgreSQL has no
    /// statistics of the log yet (as in a new store's first minute): without them the planner takes every revision
    /// for 0.5 % of the log.
    /// </summary>
    private async Task AppendUnanalyzedLogAsync()
    {
        var value = new string('v', 1024);
        for (var batch = 0; batch < 2; batch++)
        {
            for (var i = 0; i < 1000; i++)
            {
                Log.Revision().Put($"/registry/pods/p{i}", value);
            }
            await AppendLogAsync();
        }
        Assert.Equal(["-1"], await _database.QueryAsync("SELECT reltuples::text FROM pg_class WHERE relname = 'kv_log'"));
    }

    /// <summary>The plan of a page of 500 pods (one key group) at <paramref name="revision"/>.</summary>
    private Task<List<string>> ExplainReadOfPodsAsync(string options, long revision)
    {
        var span = Interval("/registry/pods/", "/registry/pods0");
        return ExplainAsync(
            PostgresKeyQueries.Spans.Rows(SpanShapes.Of(span), inGroup: true),
            options,
            new NpgsqlParameter<byte[]>("start", span.Start),
            new NpgsqlParameter<byte[]>("end", span.End!),
            new NpgsqlParameter<byte[]>("group", KeyGroups.Of(span)!),
            new NpgsqlParameter<long>("revision", revision),
            new NpgsqlParameter<long>("limit", 500));
    }

    /// <summary>The lines of PostgreSQL's plan for <paramref name="sql"/>, on a connection with <paramref name="options"/>.</summary>
    private async Task<List<string>> ExplainAsync(string sql, string options, params NpgsqlParameter[] parameters)
    {
        await using var connection = new NpgsqlConnection($"{_database.ConnectionString};Options={options}");
        await connection.OpenAsync();
        await using var explain = new NpgsqlCommand("EXPLAIN " + sql, connection);
        explain.Parameters.AddRange(parameters);
        var plan = new List<string>();
        await using var reader = await explain.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            plan.Add(reader.GetString(0));
        }
        return plan;
    }
}

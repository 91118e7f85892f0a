using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Interfaces.Model;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace KubeBrain.Grains.Storage.Postgres;

/// <summary>
/// An <see cref="IMvccStore"/> in a PostgreSQL database (schema: <c>Storage/Postgres/Migrations</c>), through a
/// pool of at most <see cref="PostgresStoreOptions.MaxPoolSize"/> connections with <c>synchronous_commit</c> on, so
/// an acknowledged append is as durable as the server's commits. Each group-commit batch is one statement and
/// one round trip, and every other sequencer write is one statement that locks the metadata row FOR SHARE under
/// the epoch fence (a purge batch holds that lock while it deletes, so an append may wait for one batch); reads
/// that must be one snapshot run in a REPEATABLE READ transaction.
/// <para>
/// While PostgreSQL is unreachable, restarting or failing over, every call fails with
/// <see cref="StoreUnavailableException"/> (an append only when it did not commit; see
/// <see cref="IMvccStore.AppendAsync"/>), the pool drops its connections, and the store works again by itself
/// once the server is back.
/// </para>
/// </summary>
public sealed class PostgresMvccStore : IMvccStore
{
    private readonly string _connectionString;
    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgresLogWriter _writer;
    private volatile bool _migrated;
    private volatile bool _opened;
    private volatile bool _disposed;

    public PostgresMvccStore(PostgresStoreOptions options, ILogger<PostgresMvccStore> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var builder = Connections(options);
        _connectionString = builder.ConnectionString;
        _dataSource = CreatePool(builder);
        _writer = new PostgresLogWriter(_dataSource, logger);
    }

    /// <summary>
    /// The store's connections: at most <see cref="PostgresStoreOptions.MaxPoolSize"/>, each with
    /// <c>synchronous_commit</c> on and PostgreSQL's JIT compilation off. The store's statements are lookups and
    /// appends that take well under a millisecond to run, but without statistics (a new log's first minute) the
    /// planner can cost them above <c>jit_above_cost</c>, and compiling one takes longer than running it: with JIT
    /// on, puts of 1 KiB values that replaced values read back from the log cost PostgreSQL 6–7× the CPU.
    /// </summary>
    internal static NpgsqlDataSourceBuilder Connections(PostgresStoreOptions options)
    {
        var builder = new NpgsqlDataSourceBuilder(options.ConnectionString);
        builder.ConnectionStringBuilder.MaxPoolSize = options.MaxPoolSize;
        builder.ConnectionStringBuilder.Options = $"{builder.ConnectionStringBuilder.Options} -c synchronous_commit=on -c jit=off".Trim();
        return builder;
    }

    /// <summary>
    /// The store's pool. Each new connection prepares the append (so PostgreSQL does not parse and plan it for every
    /// batch, and no append takes a second round trip to prepare it), and it needs the schema: the migration runs on
    /// a connection of its own. The store's statements leave no session state behind (their settings are
    /// transaction-local), so the pool hands connections back without a reset.
    /// </summary>
    internal static NpgsqlDataSource CreatePool(NpgsqlDataSourceBuilder builder)
    {
        builder.ConnectionStringBuilder.NoResetOnClose = true;
        builder.UsePhysicalConnectionInitializer(PostgresLogWriter.PrepareAppend, PostgresLogWriter.PrepareAppendAsync);
        return builder.Build();
    }

    /// <summary>
    /// Brings the schema up to date; from then on the store serves reads. The host calls this before the silo starts,
    /// so that on a silo without the sequencer, whose store is never opened, the key ranges placed there can read;
    /// <see cref="OpenAsync"/> calls it too.
    /// </summary>
    /// <returns>The names of the migrations this call applied, in order.</returns>
    public async Task<IReadOnlyList<string>> MigrateAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var applied = await PostgresSchema.MigrateAsync(_connectionString, cancellationToken);
        _migrated = true;
        return applied;
    }

    public async Task<StoreMetadata> OpenAsync(TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var metadata = await UnavailableOnFailure(
            async () =>
            {
                await MigrateAsync(cancellationToken);
                return await _writer.TakeEpochAsync(leaseDuration, cancellationToken);
            });
        _opened = true;
        return metadata;
    }

    public Task RenewLeaseAsync(long epoch, TimeSpan leaseDuration, CancellationToken cancellationToken) =>
        Run(async () =>
        {
            await _writer.RenewLeaseAsync(epoch, leaseDuration, cancellationToken);
            return true;
        });

    public Task ReleaseLeaseAsync(long epoch, CancellationToken cancellationToken) =>
        Run(async () =>
        {
            await _writer.ReleaseLeaseAsync(epoch, cancellationToken);
            return true;
        });

    public Task AppendAsync(CommitBatch batch, CancellationToken cancellationToken)
    {
        CommitBatchValidation.Validate(batch);
        return Run(async () =>
        {
            await _writer.AppendAsync(batch, cancellationToken);
            return true;
        });
    }

    public Task<RangeResult> RangeAsync(KeySpan span, long revision, long limit, bool countOnly, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(span);
        return Read(() => PostgresLogReader.RangeAsync(_dataSource, span, revision, limit, countOnly, cancellationToken));
    }

    public Task<IReadOnlyList<byte[]?>> ReadValuesAsync(IReadOnlyList<KeyRevision> versions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(versions);
        return Read(() => PostgresLogReader.ReadValuesAsync(_dataSource, versions, cancellationToken));
    }

    public Task<RevisionsResult> ReadRevisionsAsync(long fromRevision, int maxRevisions, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRevisions);
        return Read(() => PostgresLogReader.ReadRevisionsAsync(_dataSource, fromRevision, maxRevisions, cancellationToken));
    }

    public Task<KvStatus> SetCompactRevisionAsync(long epoch, long revision, CancellationToken cancellationToken) =>
        Run(() => _writer.SetCompactRevisionAsync(epoch, revision, cancellationToken));

    public Task<int> PurgeAsync(long epoch, int maxRows, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRows);
        return Run(() => _writer.PurgeAsync(epoch, maxRows, cancellationToken));
    }

    public Task<long> ClaimRangeAsync(long epoch, string rangeId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rangeId);
        return Run(() => _writer.ClaimRangeAsync(epoch, rangeId, cancellationToken));
    }

    public Task<IReadOnlyList<RangeOwner>> ListRangesAsync(CancellationToken cancellationToken) =>
        Read(() => PostgresLogReader.ListRangesAsync(_dataSource, cancellationToken));

    public Task<long> SizeAsync(CancellationToken cancellationToken) =>
        Read(() => PostgresLogReader.SizeAsync(_dataSource, cancellationToken));

    public Task<bool> GrantLeaseAsync(long epoch, StoredLease lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        return Run(() => _writer.GrantLeaseAsync(epoch, lease, cancellationToken));
    }

    public Task<bool> RevokeLeaseAsync(long epoch, long id, CancellationToken cancellationToken) =>
        Run(() => _writer.RevokeLeaseAsync(epoch, id, cancellationToken));

    public Task<IReadOnlyList<StoredLease>> ListLeasesAsync(CancellationToken cancellationToken) =>
        Read(() => PostgresLogReader.ListLeasesAsync(_dataSource, cancellationToken));

    public Task<IReadOnlyList<LeasedKey>> ListLeasedKeysAsync(CancellationToken cancellationToken) =>
        Read(() => PostgresLogReader.ListLeasedKeysAsync(_dataSource, cancellationToken));

    /// <summary>Closes every connection. Call it once no other call is in flight.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        await _dataSource.DisposeAsync();
    }

    /// <summary>Runs a write of an opened store, with transient failures as <see cref="StoreUnavailableException"/>.</summary>
    private Task<T> Run<T>(Func<Task<T>> call)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_opened)
        {
            throw new InvalidOperationException("The store is not open; call OpenAsync first.");
        }
        return UnavailableOnFailure(call);
    }

    /// <summary>Runs a read once the schema is current, with transient failures as <see cref="StoreUnavailableException"/>.</summary>
    private Task<T> Read<T>(Func<Task<T>> call)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_migrated)
        {
            throw new InvalidOperationException("The store's schema is not known to be current; call MigrateAsync or OpenAsync first.");
        }
        return UnavailableOnFailure(call);
    }

    private async Task<T> UnavailableOnFailure<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception failure) when (PostgresFailures.IsTransient(failure))
        {
            _dataSource.Clear();
            throw new StoreUnavailableException("PostgreSQL is unavailable", failure);
        }
    }
}

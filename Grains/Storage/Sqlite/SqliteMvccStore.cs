using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.Grains.Storage.Sqlite;

/// <summary>
/// An <see cref="IMvccStore"/> in one SQLite file in WAL mode with <c>synchronous=FULL</c>, so an acknowledged
/// append survives a crash or power loss. Writes (appends, compaction, purging, claims, leases) go through one
/// write connection, one at a time, each in an immediate transaction that checks the sequencer epoch first, on a thread-pool thread so that the caller's scheduler is free while SQLite syncs.
/// Reads use a pool of read connections and run each request in one read transaction, which is a snapshot.
/// After <see cref="DisposeAsync"/> the same file can be opened again by a new instance.
/// </summary>
public sealed class SqliteMvccStore : IMvccStore
{
    private readonly string _path;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly Lock _readersLock = new();
    private readonly Stack<SqliteLogReader> _idleReaders = new();
    private readonly List<SqliteLogReader> _allReaders = [];
    private readonly ProcessSequencerLease _sequencerLease = new();
    private SqliteLogWriter? _writer;
    private bool _disposed;

    /// <param name="path">The database file; it and its directory are created on open when missing.</param>
    public SqliteMvccStore(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        _path = Path.GetFullPath(path);
    }

    public async Task<StoreMetadata> OpenAsync(TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        StoreMetadata metadata;
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            metadata = await Task.Run(
                () =>
                {
                    _writer ??= SqliteLogWriter.Open(_path);
                    return _writer.TakeEpoch();
                },
                CancellationToken.None);
        }
        finally
        {
            _writeGate.Release();
        }
        await _sequencerLease.TakeOverAsync(metadata.Epoch, leaseDuration, cancellationToken);
        return metadata;
    }

    public Task RenewLeaseAsync(long epoch, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _sequencerLease.RenewAsync(epoch, leaseDuration);
    }

    public Task ReleaseLeaseAsync(long epoch, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _sequencerLease.ReleaseAsync(epoch);
    }

    public async Task AppendAsync(CommitBatch batch, CancellationToken cancellationToken)
    {
        CommitBatchValidation.Validate(batch);
        await WriteAsync(writer => writer.Append(batch), cancellationToken);
        _sequencerLease.RenewAfterAppend(batch.Epoch);
    }

    public Task<RangeResult> RangeAsync(KeySpan span, long revision, long limit, bool countOnly, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(span);
        cancellationToken.ThrowIfCancellationRequested();
        var reader = RentReader();
        try
        {
            return Task.FromResult(reader.Range(span, revision, limit, countOnly));
        }
        finally
        {
            ReturnReader(reader);
        }
    }

    public Task<IReadOnlyList<byte[]?>> ReadValuesAsync(IReadOnlyList<KeyRevision> versions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(versions);
        return ReadAsync(reader => reader.ReadValues(versions), cancellationToken);
    }

    public Task<RevisionsResult> ReadRevisionsAsync(long fromRevision, int maxRevisions, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRevisions);
        cancellationToken.ThrowIfCancellationRequested();
        var reader = RentReader();
        try
        {
            return Task.FromResult(reader.ReadRevisions(fromRevision, maxRevisions));
        }
        finally
        {
            ReturnReader(reader);
        }
    }

    public Task<KvStatus> SetCompactRevisionAsync(long epoch, long revision, CancellationToken cancellationToken) =>
        WriteAsync(writer => writer.SetCompactRevision(epoch, revision), cancellationToken);

    public Task<int> PurgeAsync(long epoch, int maxRows, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRows);
        return WriteAsync(writer => writer.Purge(epoch, maxRows), cancellationToken);
    }

    public Task<long> ClaimRangeAsync(long epoch, string rangeId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rangeId);
        return WriteAsync(writer => writer.ClaimRange(epoch, rangeId), cancellationToken);
    }

    public Task<IReadOnlyList<RangeOwner>> ListRangesAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var reader = RentReader();
        try
        {
            return Task.FromResult(reader.ListRanges());
        }
        finally
        {
            ReturnReader(reader);
        }
    }

    public Task<long> SizeAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var reader = RentReader();
        try
        {
            return Task.FromResult(reader.Size());
        }
        finally
        {
            ReturnReader(reader);
        }
    }

    public Task<bool> GrantLeaseAsync(long epoch, StoredLease lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        return WriteAsync(writer => writer.GrantLease(epoch, lease), cancellationToken);
    }

    public Task<bool> RevokeLeaseAsync(long epoch, long id, CancellationToken cancellationToken) =>
        WriteAsync(writer => writer.RevokeLease(epoch, id), cancellationToken);

    public Task<IReadOnlyList<StoredLease>> ListLeasesAsync(CancellationToken cancellationToken) =>
        ReadAsync(reader => reader.ListLeases(), cancellationToken);

    public Task<IReadOnlyList<LeasedKey>> ListLeasedKeysAsync(CancellationToken cancellationToken) =>
        ReadAsync(reader => reader.ListLeasedKeys(), cancellationToken);

    /// <summary>Closes every connection. Call it once no other call is in flight.</summary>
    public async ValueTask DisposeAsync()
    {
        await _writeGate.WaitAsync();
        try
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            lock (_readersLock)
            {
                foreach (var reader in _allReaders)
                {
                    reader.Dispose();
                }
                _allReaders.Clear();
                _idleReaders.Clear();
            }
            _writer?.Dispose();
            _writer = null;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private async Task WriteAsync(Action<SqliteLogWriter> write, CancellationToken cancellationToken) =>
        await WriteAsync(
            writer =>
            {
                write(writer);
                return true;
            },
            cancellationToken);

    private async Task<T> WriteAsync<T>(Func<SqliteLogWriter, T> write, CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var writer = _writer ?? throw NotOpen();
            cancellationToken.ThrowIfCancellationRequested();
            return await Task.Run(() => write(writer), CancellationToken.None);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private Task<T> ReadAsync<T>(Func<SqliteLogReader, T> read, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var reader = RentReader();
        try
        {
            return Task.FromResult(read(reader));
        }
        finally
        {
            ReturnReader(reader);
        }
    }

    private SqliteLogReader RentReader()
    {
        lock (_readersLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_writer is null)
            {
                throw NotOpen();
            }
            if (_idleReaders.TryPop(out var idle))
            {
                return idle;
            }
            var reader = SqliteLogReader.Open(_path);
            _allReaders.Add(reader);
            return reader;
        }
    }

    private void ReturnReader(SqliteLogReader reader)
    {
        lock (_readersLock)
        {
            if (!_disposed)
            {
                _idleReaders.Push(reader);
            }
        }
    }

    private static InvalidOperationException NotOpen() => new("The store is not open; call OpenAsync first.");
}

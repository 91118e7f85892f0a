using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.Grains.Storage.InMemory;

/// <summary>
/// An <see cref="IMvccStore"/> held in process memory, for tests and <c>--storage memory</c>. Every operation
/// runs under one lock, so each is atomic and every read is a snapshot. Rows are kept twice: per key in a set
/// ordered by unsigned byte comparison (for range reads and purging) and per revision (for whole-revision reads).
/// </summary>
public sealed class InMemoryMvccStore : IMvccStore
{
    private readonly Lock _lock = new();
    private readonly SortedSet<KeyHistory> _keys = new(KeyHistory.ByKey);
    private readonly Dictionary<long, List<StoredRow>> _revisions = [];
    private readonly SortedDictionary<string, long> _ranges = new(StringComparer.Ordinal);
    private readonly SortedDictionary<long, StoredLease> _leases = [];
    private readonly ProcessSequencerLease _sequencerLease = new();
    private bool _opened;
    private long _currentRevision = 1;
    private long _compactRevision;
    private long _epoch;
    private long _bytes;
    private long _purgeFrom;
    private long _purgeCompactRevision;

    public async Task<StoreMetadata> OpenAsync(TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        StoreMetadata metadata;
        lock (_lock)
        {
            _opened = true;
            _epoch++;
            metadata = new StoreMetadata(_currentRevision, _compactRevision, _epoch);
        }
        await _sequencerLease.TakeOverAsync(metadata.Epoch, leaseDuration, cancellationToken);
        return metadata;
    }

    public Task RenewLeaseAsync(long epoch, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            EnsureOpen();
        }
        return _sequencerLease.RenewAsync(epoch, leaseDuration);
    }

    public Task ReleaseLeaseAsync(long epoch, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            EnsureOpen();
        }
        return _sequencerLease.ReleaseAsync(epoch);
    }

    public Task AppendAsync(CommitBatch batch, CancellationToken cancellationToken)
    {
        CommitBatchValidation.Validate(batch);
        lock (_lock)
        {
            EnsureOpen();
            if (batch.Epoch != _epoch || batch.FirstRevision != _currentRevision + 1)
            {
                throw new StoreFencedException(
                    $"The append of revisions {batch.FirstRevision}..{batch.LastRevision} under epoch {batch.Epoch} was refused: the store is at revision {_currentRevision} under epoch {_epoch}.");
            }
            List<StoredRow>? revisionRows = null;
            foreach (var row in batch.Rows)
            {
                if (row.Sub == 0)
                {
                    revisionRows = [];
                    _revisions.Add(row.Revision, revisionRows);
                }
                revisionRows!.Add(row);
                var probe = new KeyHistory(row.Key);
                if (!_keys.TryGetValue(probe, out var history))
                {
                    history = probe;
                    _keys.Add(history);
                }
                history.Rows.Add(row);
                _bytes += row.Key.Length + row.Value.Length;
            }
            _currentRevision = batch.LastRevision;
        }
        _sequencerLease.RenewAfterAppend(batch.Epoch);
        return Task.CompletedTask;
    }

    public Task<RangeResult> RangeAsync(KeySpan span, long revision, long limit, bool countOnly, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(span);
        lock (_lock)
        {
            EnsureOpen();
            var readRevision = revision <= 0 ? _currentRevision : revision;
            if (readRevision > _currentRevision)
            {
                return Task.FromResult(RangeResult.Failed(KvStatus.FutureRevision));
            }
            if (readRevision < _compactRevision)
            {
                return Task.FromResult(RangeResult.Failed(KvStatus.Compacted));
            }
            var kvs = new List<KeyValue>();
            long count = 0;
            foreach (var history in HistoriesIn(span))
            {
                var index = history.IndexAtOrBelow(readRevision);
                if (index < 0 || history.Rows[index].Tombstone)
                {
                    continue;
                }
                count++;
                if (!countOnly && (limit <= 0 || kvs.Count < limit))
                {
                    var row = history.Rows[index];
                    kvs.Add(new KeyValue(row.Key, row.CreateRevision, row.Revision, row.Version, row.Value, row.Lease));
                }
            }
            var more = !countOnly && limit > 0 && count > limit;
            return Task.FromResult(new RangeResult(KvStatus.Ok, kvs, count, more));
        }
    }

    public Task<IReadOnlyList<byte[]?>> ReadValuesAsync(IReadOnlyList<KeyRevision> versions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(versions);
        lock (_lock)
        {
            EnsureOpen();
            return Task.FromResult<IReadOnlyList<byte[]?>>(versions.Select(wanted =>
                _revisions.TryGetValue(wanted.Revision, out var rows) && rows.Find(r => r.Key.AsSpan().SequenceEqual(wanted.Key)) is { } row
                    ? row.Value
                    : null).ToList());
        }
    }

    public Task<RevisionsResult> ReadRevisionsAsync(long fromRevision, int maxRevisions, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRevisions);
        lock (_lock)
        {
            EnsureOpen();
            if (fromRevision < _compactRevision)
            {
                return Task.FromResult(new RevisionsResult(KvStatus.Compacted, _compactRevision, [], []));
            }
            var rows = new List<StoredRow>();
            var toRevision = Math.Min(fromRevision + maxRevisions - 1, _currentRevision);
            for (var revision = fromRevision; revision <= toRevision; revision++)
            {
                if (_revisions.TryGetValue(revision, out var revisionRows))
                {
                    rows.AddRange(revisionRows);
                }
            }
            return Task.FromResult(new RevisionsResult(KvStatus.Ok, _compactRevision, rows, rows.ConvertAll(Replaced)));
        }
    }

    public Task<KvStatus> SetCompactRevisionAsync(long epoch, long revision, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            EnsureCurrent(epoch, $"Setting the compaction revision {revision}");
            if (revision <= _compactRevision)
            {
                return Task.FromResult(KvStatus.Compacted);
            }
            if (revision > _currentRevision)
            {
                return Task.FromResult(KvStatus.FutureRevision);
            }
            _compactRevision = revision;
            return Task.FromResult(KvStatus.Ok);
        }
    }

    public Task<int> PurgeAsync(long epoch, int maxRows, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRows);
        lock (_lock)
        {
            EnsureCurrent(epoch, "Purging");
            if (_purgeCompactRevision != _compactRevision)
            {
                _purgeCompactRevision = _compactRevision;
                _purgeFrom = 0;
            }
            var removed = 0;
            for (var revision = _purgeFrom; revision < _compactRevision; revision++)
            {
                if (!_revisions.TryGetValue(revision, out var revisionRows))
                {
                    continue;
                }
                removed += PurgeRevision(revisionRows, maxRows - removed);
                if (revisionRows.Count == 0)
                {
                    _revisions.Remove(revision);
                }
                if (removed == maxRows)
                {
                    _purgeFrom = revision;
                    return Task.FromResult(removed);
                }
            }
            _purgeFrom = _compactRevision;
            return Task.FromResult(removed);
        }
    }

    public Task<long> ClaimRangeAsync(long epoch, string rangeId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rangeId);
        lock (_lock)
        {
            EnsureCurrent(epoch, $"The claim of range {rangeId}");
            var rangeEpoch = _ranges.GetValueOrDefault(rangeId) + 1;
            _ranges[rangeId] = rangeEpoch;
            return Task.FromResult(rangeEpoch);
        }
    }

    public Task<IReadOnlyList<RangeOwner>> ListRangesAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            EnsureOpen();
            return Task.FromResult<IReadOnlyList<RangeOwner>>([.. _ranges.Select(r => new RangeOwner(r.Key, r.Value))]);
        }
    }

    /// <summary>The bytes of the keys and values held, which is what this store's memory grows with.</summary>
    public Task<long> SizeAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            EnsureOpen();
            return Task.FromResult(_bytes);
        }
    }

    public Task<bool> GrantLeaseAsync(long epoch, StoredLease lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        lock (_lock)
        {
            EnsureCurrent(epoch, $"The grant of lease {lease.Id}");
            return Task.FromResult(_leases.TryAdd(lease.Id, lease));
        }
    }

    public Task<bool> RevokeLeaseAsync(long epoch, long id, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            EnsureCurrent(epoch, $"The revoke of lease {id}");
            return Task.FromResult(_leases.Remove(id));
        }
    }

    public Task<IReadOnlyList<StoredLease>> ListLeasesAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            EnsureOpen();
            return Task.FromResult<IReadOnlyList<StoredLease>>([.. _leases.Values]);
        }
    }

    public Task<IReadOnlyList<LeasedKey>> ListLeasedKeysAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            EnsureOpen();
            var leased = new List<LeasedKey>();
            foreach (var history in _keys)
            {
                var newest = history.Rows[^1];
                if (!newest.Tombstone && newest.Lease != 0)
                {
                    leased.Add(new LeasedKey(newest.Lease, newest.Key));
                }
            }
            return Task.FromResult<IReadOnlyList<LeasedKey>>(leased);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private void EnsureOpen()
    {
        if (!_opened)
        {
            throw new InvalidOperationException("The store is not open; call OpenAsync first.");
        }
    }

    /// <summary>The fence of a sequencer write: <paramref name="epoch"/> must be the newest one taken.</summary>
    private void EnsureCurrent(long epoch, string write)
    {
        EnsureOpen();
        if (epoch != _epoch)
        {
            throw StoreFencedException.Refused(write, epoch, _epoch);
        }
    }

    private IEnumerable<KeyHistory> HistoriesIn(KeySpan span)
    {
        if (span.IsSingle)
        {
            return _keys.TryGetValue(new KeyHistory(span.Start), out var history) ? [history] : [];
        }
        if (span.IsEmpty || _keys.Count == 0)
        {
            return [];
        }
        var lower = new KeyHistory(span.Start);
        if (span.IsUnbounded)
        {
            var max = _keys.Max!;
            return KeyHistory.ByKey.Compare(lower, max) > 0 ? [] : _keys.GetViewBetween(lower, max);
        }
        var upper = new KeyHistory(span.End!);
        return _keys.GetViewBetween(lower, upper).Where(history => KeyHistory.ByKey.Compare(history, upper) < 0);
    }

    /// <summary>
    /// Removes, in sub order, at most <paramref name="maxRows"/> rows of one revision below the compaction revision
    /// that are tombstones or whose key has a newer row below it.
    /// </summary>
    private int PurgeRevision(List<StoredRow> revisionRows, int maxRows)
    {
        var removed = 0;
        for (var i = 0; i < revisionRows.Count && removed < maxRows;)
        {
            var row = revisionRows[i];
            var history = _keys.TryGetValue(new KeyHistory(row.Key), out var found)
                ? found
                : throw new InvalidOperationException("A logged row has no key history.");
            var index = history.IndexAtOrBelow(row.Revision);
            var hasNewerBelowCompaction = index + 1 < history.Rows.Count && history.Rows[index + 1].Revision < _compactRevision;
            if (!row.Tombstone && !hasNewerBelowCompaction)
            {
                i++;
                continue;
            }
            history.Rows.RemoveAt(index);
            if (history.Rows.Count == 0)
            {
                _keys.Remove(history);
            }
            revisionRows.RemoveAt(i);
            _bytes -= row.Key.Length + row.Value.Length;
            removed++;
        }
        return removed;
    }

    /// <summary>The rows of one key, ascending by revision.</summary>
    /// <summary>The version <paramref name="row"/> replaced, null when the key was absent.</summary>
    private KeyValue? Replaced(StoredRow row)
    {
        if (row.PrevRevision == 0 || !_keys.TryGetValue(new KeyHistory(row.Key), out var history))
        {
            return null;
        }
        var index = history.IndexAtOrBelow(row.PrevRevision);
        var prev = index >= 0 ? history.Rows[index] : null;
        return prev is { Tombstone: false } && prev.Revision == row.PrevRevision
            ? new KeyValue(prev.Key, prev.CreateRevision, prev.Revision, prev.Version, prev.Value, prev.Lease)
            : null;
    }

    private sealed class KeyHistory(byte[] key)
    {
        public static readonly IComparer<KeyHistory> ByKey =
            Comparer<KeyHistory>.Create((x, y) => x.Key.AsSpan().SequenceCompareTo(y.Key));

        public byte[] Key { get; } = key;

        public List<StoredRow> Rows { get; } = [];

        /// <summary>The index of the newest row at or below <paramref name="revision"/>, or −1.</summary>
        public int IndexAtOrBelow(long revision)
        {
            var low = 0;
            var high = Rows.Count - 1;
            while (low <= high)
            {
                var middle = low + ((high - low) / 2);
                if (Rows[middle].Revision <= revision)
                {
                    low = middle + 1;
                }
                else
                {
                    high = middle - 1;
                }
            }
            return high;
        }
    }
}

using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Mvcc;
using KubeBrain.Grains.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace KubeBrain.Grains.KeyRange;

/// <summary>
/// Owns the keys of one key range. Writes are validated one at a time in arrival order against the range's
/// newest state, pending writes included, so writes to one key queue behind each other without waiting for
/// each other's commit; the accepted writes go to the sequencer in batches, one batch in flight at a time, so
/// they commit in the order they were validated. When a write is not committed, every write validated after it
/// is rolled back and validated again: nothing acknowledged ever depended on a write that did not commit.
/// Reads are answered as of a revision from committed versions only, after every write accepted before the
/// read arrived has resolved. Every key's versions are in memory, but committed values only up to a budget
/// (<see cref="ValueCache"/>): a request that needs others reads them from the store and is evaluated again.
/// </summary>
[Reentrant]
internal sealed partial class KeyRangeGrain(IMvccStore store, StoreMetrics metrics, IOptions<KeyRangeOptions> options, ILogger<KeyRangeGrain> logger)
    : Grain, IKeyRangeGrain
{
    private readonly KeyIndex _index = new();
    private readonly List<GroupLock> _locks = [];
    private readonly RecentSet<Guid> _endedGroups = new(1024);
    private readonly ValueCache _values = new(options.Value.ValueCacheBytes);
    private readonly ValueLoader _loader = new(store, metrics);
    private Exception? _poison;
    private List<PipelineItem> _queued = [];
    private List<PipelineItem>? _inFlight;
    private PipelineItem? _lastAccepted;
    private IRevisionSequencerGrain _sequencer = null!;
    private string _rangeId = KeyRouter.DefaultRange;
    private long _epoch;
    private long _loadRevision;
    private long _compactRevision;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _rangeId = this.GetPrimaryKeyString();
        _sequencer = GrainFactory.GetGrain<IRevisionSequencerGrain>(0);
        RangeResult loaded;
        do
        {
            var claim = await _sequencer.ClaimRangeAsync(_rangeId);
            _epoch = claim.Epoch;
            _loadRevision = claim.Revision;
            _compactRevision = claim.CompactRevision;
            loaded = await metrics.TimeAsync(StoreRead.Range, () => store.RangeAsync(Domain, _loadRevision, 0, false, cancellationToken));
        }
        while (loaded.Status == KvStatus.Compacted);
        foreach (var kv in loaded.Kvs)
        {
            if (Owns(kv.Key))
            {
                var version = KeyVersion.FromCommitted(kv);
                _index.GetOrAdd(kv.Key).Add(version);
                _values.Admit(version);
            }
        }
        LogActivated(_rangeId, _epoch, _index.Count, _loadRevision);
    }

    public async Task<TxnResult> TxnAsync(TxnRequest txn)
    {
        List<KeySpan>? spans = null;
        var fetched = new FetchedValues();
        while (true)
        {
            ThrowIfPoisoned();
            if (_locks.Count > 0)
            {
                await WaitForLocksAsync(spans ??= TxnKeys.SpansOf(txn));
            }
            var evaluation = TxnEvaluator.Evaluate(txn, new IndexView(_index, null, fetched));
            if (fetched.HasMissing)
            {
                await FetchAsync(fetched);
                continue;
            }
            if (evaluation is null)
            {
                await WaitForAcceptedAsync();
                continue;
            }
            if (evaluation.Refusal != KvStatus.Ok || evaluation.Writes.Count == 0)
            {
                var barrier = await _sequencer.BarrierAsync();
                ThrowIfPoisoned();
                if (await ReadTxnCoreAsync(txn, spans ??= TxnKeys.SpansOf(txn), barrier.Revision) is { } readResult)
                {
                    return readResult;
                }
                continue;
            }
            var outcome = await Accept(evaluation.Writes).Outcome;
            ThrowIfPoisoned();
            switch (outcome.Status)
            {
                case SubmitStatus.Committed:
                    return evaluation.Result.ToResult(outcome.Revision, wrote: true);
                case SubmitStatus.LeaseNotFound:
                    return TxnResult.Failed(KvStatus.LeaseNotFound);
                case SubmitStatus.Retry when outcome.Failure is not null:
                    throw new StoreUnavailableException("the write was not committed", outcome.Failure);
            }
        }
    }

    public async Task<TxnResult> ReadTxnAsync(TxnRequest txn, long revision)
    {
        var spans = TxnKeys.SpansOf(txn);
        return await ReadTxnCoreAsync(txn, spans, revision) ?? throw new InvalidOperationException("a read-only transaction wrote");
    }

    public async Task<RangeResult> RangeAsync(RangeQuery query, long revision)
    {
        await WaitForLocksAsync([query.Span]);
        await WaitForAcceptedAsync();
        var range = await EvaluateAtAsync(revision, [query.Span], view => TxnEvaluator.Range(query, view));
        return range?.Shape() ?? RangeResult.Failed(KvStatus.Compacted);
    }

    public async Task<IReadOnlyList<KeyValue>> LockAsync(Guid groupId, IReadOnlyList<KeySpan> spans)
    {
        await WaitForLocksAsync(spans);
        if (_endedGroups.Contains(groupId))
        {
            throw new StoreUnavailableException($"group {groupId} ended before its lock was granted", null);
        }
        var held = new GroupLock(groupId, spans);
        _locks.Add(held);
        _ = ExpireAsync(held);
        await WaitForAcceptedAsync();
        var fetched = new FetchedValues();
        while (true)
        {
            var latest = new IndexView(_index, long.MaxValue, fetched);
            var kvs = spans.SelectMany(latest.Scan)
                .DistinctBy(v => v.Key, ByteKeyComparer.Instance)
                .Select(v => v.ToKeyValue(latest.ValueOf(v)))
                .ToList();
            if (!fetched.HasMissing)
            {
                return kvs;
            }
            await FetchAsync(fetched);
        }
    }

    /// <summary>
    /// Applies a committed group's writes if this activation still holds its lock. Otherwise the lock was taken by
    /// an older activation, or it expired and this one stopped answering; either way the group committed before
    /// the current activation's claim, which loaded it from the store.
    /// </summary>
    public Task ApplyGroupAsync(Guid groupId, long revision, IReadOnlyList<KeyWrite> writes)
    {
        if (_poison is null && _locks.Exists(l => l.GroupId == groupId))
        {
            foreach (var write in writes)
            {
                var version = KeyVersion.FromWrite(write, revision);
                _index.GetOrAdd(write.Key).Add(version);
                _values.Admit(version);
            }
        }
        return ReleaseAsync(groupId);
    }

    public Task ReleaseAsync(Guid groupId)
    {
        _endedGroups.Add(groupId);
        var index = _locks.FindIndex(l => l.GroupId == groupId);
        if (index >= 0)
        {
            _locks[index].Release();
            _locks.RemoveAt(index);
        }
        return Task.CompletedTask;
    }

    public Task ResetAsync(Guid groupId)
    {
        Poison(new StoreUnavailableException($"the outcome of group {groupId} is unknown", null));
        return ReleaseAsync(groupId);
    }

    /// <summary>
    /// A lock whose group neither applied nor released within the lease (its coordinator died or lost contact)
    /// ends as an unknown outcome: the range reloads from the store, and its re-claim makes the sequencer refuse
    /// the group if it was not committed yet.
    /// </summary>
    private async Task ExpireAsync(GroupLock held)
    {
        await held.Released.WaitAsync(options.Value.GroupLockLease)
            .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        if (!held.Released.IsCompleted)
        {
            LogLockExpired(_rangeId, held.GroupId, options.Value.GroupLockLease);
            await ResetAsync(held.GroupId);
        }
    }

    /// <summary>The interval to load at activation: the registry prefix, or every key for the default range.</summary>
    private KeySpan Domain => _rangeId == KeyRouter.DefaultRange ? new KeySpan([], []) : KeyRouter.DomainOf(_rangeId);

    private bool Owns(byte[] key) => KeyRouter.RangeOf(key) == _rangeId;

    /// <summary>Evaluates a transaction that must not write as of a committed revision; null if it would write.</summary>
    private async Task<TxnResult?> ReadTxnCoreAsync(TxnRequest txn, List<KeySpan> spans, long revision)
    {
        await WaitForLocksAsync(spans);
        await WaitForAcceptedAsync();
        if (await EvaluateAtAsync(revision, spans, view => TxnEvaluator.Evaluate(txn, view)!) is not { } evaluation)
        {
            return TxnResult.Failed(KvStatus.Compacted);
        }
        if (evaluation.Refusal != KvStatus.Ok)
        {
            return TxnResult.Failed(evaluation.Refusal);
        }
        return evaluation.Writes.Count == 0 ? evaluation.Result.ToResult(revision, wrote: false) : null;
    }

    /// <summary>
    /// The committed state as of <paramref name="revision"/>: from memory when the revision is not older than the
    /// load, else from the store (history from before this activation is only there); null when the store has
    /// compacted that revision meanwhile.
    /// </summary>
    private async Task<IKvView?> ViewAtAsync(long revision, IReadOnlyList<KeySpan> spans, FetchedValues fetched)
    {
        if (revision >= _loadRevision)
        {
            return new IndexView(_index, revision, fetched);
        }
        var kvs = new List<KeyValue>();
        foreach (var span in spans)
        {
            var stored = await metrics.TimeAsync(StoreRead.Range, () => store.RangeAsync(span, revision, 0, false, CancellationToken.None));
            if (stored.Status != KvStatus.Ok)
            {
                return null;
            }
            kvs.AddRange(stored.Kvs.Where(kv => Owns(kv.Key)));
        }
        return new SnapshotView(kvs);
    }

    /// <summary>
    /// Evaluates against the committed state as of <paramref name="revision"/>, reading the values the evaluation
    /// missed from the store and evaluating again; null when that revision is compacted.
    /// </summary>
    private async Task<T?> EvaluateAtAsync<T>(long revision, IReadOnlyList<KeySpan> spans, Func<IKvView, T> evaluate)
        where T : class
    {
        var fetched = new FetchedValues();
        while (true)
        {
            if (revision < _compactRevision || await ViewAtAsync(revision, spans, fetched) is not { } view)
            {
                return null;
            }
            var result = evaluate(view);
            if (!fetched.HasMissing)
            {
                return result;
            }
            if (!await FetchAsync(fetched))
            {
                return null;
            }
        }
    }

    /// <summary>
    /// Reads the values <paramref name="fetched"/> found missing from the store (with those other requests miss
    /// meanwhile, <see cref="ValueLoader"/>), and keeps them in memory again where they are still out. False when
    /// the store no longer holds one: it drops a value only once a compaction has passed a newer version of its key,
    /// so a read that needed it is as of a compacted revision, and a write evaluated again finds the newer version
    /// (<see cref="FetchedValues.Gone"/>).
    /// </summary>
    private async Task<bool> FetchAsync(FetchedValues fetched)
    {
        var missing = fetched.TakeMissing();
        var values = await _loader.ReadAsync(missing);
        ThrowIfPoisoned();
        var complete = true;
        foreach (var version in missing)
        {
            if (values[version] is not { } value)
            {
                fetched.Gone(version);
                complete = false;
                continue;
            }
            fetched.Add(version, value);
            if (version.Value is null)
            {
                version.Restore(value);
                _values.Admit(version);
            }
        }
        return complete;
    }

    private async Task WaitForLocksAsync(IReadOnlyList<KeySpan> spans)
    {
        ThrowIfPoisoned();
        while (FirstOverlapping(spans) is { } held)
        {
            await held.Released;
            ThrowIfPoisoned();
        }
    }

    private GroupLock? FirstOverlapping(IReadOnlyList<KeySpan> spans)
    {
        foreach (var held in _locks)
        {
            if (held.Overlaps(spans))
            {
                return held;
            }
        }
        return null;
    }

    /// <summary>Waits until every write accepted so far has resolved (they resolve in acceptance order).</summary>
    private async Task WaitForAcceptedAsync()
    {
        if (_lastAccepted is { } last)
        {
            await last.Outcome;
        }
        ThrowIfPoisoned();
    }

    /// <summary>
    /// After a write's outcome became unknown this activation's memory may be wrong: it answers nothing more,
    /// and the next activation reloads from the store once the sequencer has fenced this one's writes.
    /// </summary>
    private void Poison(Exception reason)
    {
        _poison ??= reason;
        DeactivateOnIdle();
    }

    private void ThrowIfPoisoned()
    {
        if (_poison is { } reason)
        {
            throw new StoreUnavailableException($"key range {_rangeId} is reloading", reason);
        }
    }

    private PipelineItem Accept(List<KeyVersion> writes)
    {
        foreach (var version in writes)
        {
            _index.GetOrAdd(version.Key).Add(version);
        }
        var item = new PipelineItem(writes);
        _queued.Add(item);
        _lastAccepted = item;
        Pump();
        return item;
    }

    private void Pump()
    {
        if (_inFlight is not null || _queued.Count == 0 || _poison is not null)
        {
            return;
        }
        _inFlight = _queued;
        _queued = [];
        _ = SubmitAsync(_inFlight);
    }

    private async Task SubmitAsync(List<PipelineItem> batch)
    {
        SubmitResult result;
        try
        {
            result = await _sequencer.SubmitAsync(Encode(batch));
        }
        catch (Exception failure)
        {
            Abandon(batch, failure);
            return;
        }
        if (result.Statuses.Contains(SubmitStatus.Deposed))
        {
            Abandon(batch, new StoreUnavailableException($"key range {_rangeId} was claimed by a newer activation", null));
            return;
        }
        _inFlight = null;
        var committed = 0;
        while (committed < batch.Count && result.Statuses[committed] == SubmitStatus.Committed)
        {
            foreach (var version in batch[committed].Writes)
            {
                version.Revision = result.FirstRevision + committed;
            }
            committed++;
        }
        for (var i = 0; i < committed; i++)
        {
            foreach (var version in batch[i].Writes)
            {
                version.Settle();
                _values.Admit(version);
            }
            batch[i].Resolve(ItemOutcome.Committed(result.FirstRevision + i));
        }
        if (committed < batch.Count)
        {
            RollBack(batch, committed, null, result.Statuses);
        }
        Compact(result.CompactRevision);
        Pump();
    }

    /// <summary>
    /// Fails the batch in flight and every queued write, and poisons the activation: the outcome may be unknown,
    /// so the next activation starts over from what the store holds.
    /// </summary>
    private void Abandon(List<PipelineItem> batch, Exception failure)
    {
        LogSubmitFailed(failure, _rangeId, batch.Count);
        Poison(failure);
        _inFlight = null;
        RollBack(batch, 0, failure);
    }

    /// <summary>
    /// Removes every pending version (those of <paramref name="batch"/> from <paramref name="from"/> on and of every
    /// queued write) and resolves their writes: refused, failed, or to be validated again.
    /// </summary>
    private void RollBack(List<PipelineItem> batch, int from, Exception? failure, IReadOnlyList<SubmitStatus>? statuses = null)
    {
        var undone = batch.Skip(from).Concat(_queued).ToList();
        _queued = [];
        foreach (var item in undone)
        {
            foreach (var version in item.Writes)
            {
                if (_index.Find(version.Key) is { } history)
                {
                    history.RemovePending();
                    if (history.Count == 0)
                    {
                        _index.Remove(history);
                    }
                }
            }
        }
        for (var i = 0; i < undone.Count; i++)
        {
            var status = statuses is not null && from + i < statuses.Count ? statuses[from + i] : SubmitStatus.Retry;
            undone[i].Resolve(failure is not null ? ItemOutcome.Failed(failure) : ItemOutcome.Refused(status));
        }
    }

    /// <summary>
    /// The batch as the sequencer takes it: references to versions pending in the same batch become indexes of
    /// the revisions that write them.
    /// </summary>
    private Submission Encode(List<PipelineItem> batch)
    {
        var itemOf = new Dictionary<KeyVersion, int>(ReferenceEqualityComparer.Instance);
        var revisions = new List<RevisionWrites>(batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            var writes = new List<KeyWrite>(batch[i].Writes.Count);
            foreach (var version in batch[i].Writes)
            {
                itemOf[version] = i;
                var createRef = version.PendingCreator is { } creator ? itemOf[creator] : -1;
                var prevRef = version.PendingPrev is { } prev ? itemOf[prev] : -1;
                writes.Add(version.ToWrite(createRef, prevRef, _rangeId));
            }
            revisions.Add(new RevisionWrites(writes));
        }
        return new Submission(_rangeId, _epoch, revisions, 0);
    }

    private void Compact(long compactRevision)
    {
        if (compactRevision <= _compactRevision)
        {
            return;
        }
        _compactRevision = compactRevision;
        Action<KeyVersion> dropped = _values.Release;
        foreach (var history in _index.All.ToList())
        {
            history.Compact(compactRevision, dropped);
            if (history.Count == 0)
            {
                _index.Remove(history);
            }
        }
    }

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "Key range {RangeId}: group {GroupId} held its lock for {Lease} without ending; the range reloads from the store")]
    private partial void LogLockExpired(string rangeId, Guid groupId, TimeSpan lease);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Key range {RangeId} activated at epoch {Epoch} with {Keys} keys at revision {Revision}")]
    private partial void LogActivated(string rangeId, long epoch, int keys, long revision);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Key range {RangeId} could not commit {Writes} writes; they are answered Unavailable and the range reloads from the store. The sequencer's log says why")]
    private partial void LogSubmitFailed(Exception exception, string rangeId, int writes);
}

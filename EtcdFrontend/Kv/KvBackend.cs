using KubeBrain.EtcdFrontend.Batching;
using KubeBrain.EtcdFrontend.Errors;
using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.EtcdFrontend.Kv;

/// <summary>
/// Routes KV requests to grains. A latest read first takes a read barrier at the sequencer (issued after the
/// read arrived, so it covers every write acknowledged before) and then reads every range involved as of that
/// one revision S, which is also the answer's header revision. A write goes to the one range that owns all its
/// keys, or to the coordinator when its keys may span ranges.
/// </summary>
internal sealed class KvBackend(GrainReferences grains, SequencerCalls calls)
{
    private RangeDirectory _directory = new(-1, []);

    private IRevisionSequencerGrain Sequencer => grains.Sequencer;

    /// <summary>A range read: the shaped result and the header revision.</summary>
    public async Task<(RangeResult Result, long Revision)> RangeAsync(RangeQuery query)
    {
        var barrier = await calls.BarrierAsync();
        var at = CheckRevision(query.Revision, barrier);
        if (KeyRouter.OwnerOf(query.Span) is { } owner)
        {
            return (Check(await grains.Range(owner).RangeAsync(query, at)), barrier.Revision);
        }
        var directory = await DirectoryAsync(barrier.DirectoryVersion);
        var perRange = query with
        {
            Limit = query.FetchLimit,
            KeysOnly = false,
            SortOrder = RangeSortOrder.None,
            SortTarget = RangeSortTarget.Key,
            MinModRevision = 0,
            MaxModRevision = 0,
            MinCreateRevision = 0,
            MaxCreateRevision = 0,
        };
        var parts = await Task.WhenAll(KeyRouter.RangesFor(query.Span, directory.RangeIds)
            .Select(id => grains.Range(id).RangeAsync(perRange, at)));
        var merged = parts.Select(Check).SelectMany(p => p.Kvs).OrderBy(kv => kv.Key, ByteKeyComparer.Instance).ToList();
        if (perRange.Limit > 0 && merged.Count > perRange.Limit)
        {
            merged.RemoveRange((int)perRange.Limit, merged.Count - (int)perRange.Limit);
        }
        return (RangeShaping.Shape(query, merged, parts.Sum(p => p.Count)), barrier.Revision);
    }

    /// <summary>A transaction (Put and DeleteRange travel as one-op transactions).</summary>
    public async Task<TxnResult> TxnAsync(TxnRequest txn)
    {
        var owner = TxnKeys.OwnerOf(txn);
        TxnResult result;
        if (TxnKeys.IsReadOnly(txn))
        {
            var barrier = await calls.BarrierAsync();
            result = owner is not null
                ? await grains.Range(owner).ReadTxnAsync(txn, barrier.Revision)
                : await grains.Coordinator.ReadTxnAsync(txn, barrier.Revision);
        }
        else
        {
            result = owner is not null
                ? await grains.Range(owner).TxnAsync(txn)
                : await grains.Coordinator.TxnAsync(txn);
        }
        return result.Status == KvStatus.Ok ? result : throw EtcdErrors.For(result.Status);
    }

    /// <summary>etcd's Compact; answers the current revision.</summary>
    public async Task<long> CompactAsync(long revision, bool physical)
    {
        var status = await Sequencer.CompactAsync(revision, physical);
        if (status != KvStatus.Ok)
        {
            throw EtcdErrors.For(status);
        }
        return (await calls.BarrierAsync()).Revision;
    }

    /// <summary>The store's revision, compaction revision and size.</summary>
    public Task<StoreStatus> StatusAsync() => Sequencer.StatusAsync();

    /// <summary>The latest committed revision.</summary>
    public async Task<long> RevisionAsync() => (await calls.BarrierAsync()).Revision;

    private static long CheckRevision(long requested, ReadBarrier barrier)
    {
        if (requested > barrier.Revision)
        {
            throw EtcdErrors.FutureRevision;
        }
        if (requested > 0 && requested < barrier.CompactRevision)
        {
            throw EtcdErrors.Compacted;
        }
        return requested > 0 ? requested : barrier.Revision;
    }

    private static RangeResult Check(RangeResult result) =>
        result.Status == KvStatus.Ok ? result : throw EtcdErrors.For(result.Status);

    private async Task<RangeDirectory> DirectoryAsync(long version)
    {
        var directory = _directory;
        if (directory.Version != version)
        {
            directory = await Sequencer.DirectoryAsync();
            _directory = directory;
        }
        return directory;
    }
}

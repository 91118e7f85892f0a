using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Leases;
using KubeBrain.Grains.Mvcc;
using Orleans.Concurrency;

namespace KubeBrain.Grains.Coordinator;

/// <summary>
/// Runs a transaction whose keys may span key ranges as one mutation group: it locks the transaction's spans
/// in every range that may hold them, in range-id order (so two groups never wait on each other in a cycle),
/// evaluates against the locked committed state, submits the writes as ONE revision tagged with the range
/// directory's version, and applies them to every range before releasing. If a range was claimed meanwhile
/// the sequencer refuses the group and it starts over with the new directory, so no range is missed.
/// </summary>
[StatelessWorker]
internal sealed class TxnCoordinatorGrain : Grain, ITxnCoordinatorGrain
{
    private const string GroupRangeId = "group";

    private IRevisionSequencerGrain Sequencer => GrainFactory.GetGrain<IRevisionSequencerGrain>(0);

    public async Task<TxnResult> TxnAsync(TxnRequest txn)
    {
        var spans = TxnKeys.SpansOf(txn);
        while (true)
        {
            var directory = await Sequencer.DirectoryAsync();
            var ranges = RangesFor(spans, directory.RangeIds);
            var groupId = Guid.NewGuid();
            var locked = new List<IKeyRangeGrain>(ranges.Count);
            try
            {
                var kvs = new List<KeyValue>();
                foreach (var rangeId in ranges)
                {
                    var range = GrainFactory.GetGrain<IKeyRangeGrain>(rangeId);
                    locked.Add(range);
                    kvs.AddRange(await range.LockAsync(groupId, spans));
                }
                var evaluation = TxnEvaluator.Evaluate(txn, new SnapshotView(kvs))!;
                if (evaluation.Refusal != KvStatus.Ok)
                {
                    return TxnResult.Failed(evaluation.Refusal);
                }
                if (evaluation.Writes.Count == 0)
                {
                    var barrier = await Sequencer.BarrierAsync();
                    if (barrier.DirectoryVersion != directory.Version)
                    {
                        continue;
                    }
                    return evaluation.Result.ToResult(barrier.Revision, wrote: false);
                }
                var writes = evaluation.Writes.ConvertAll(ToWrite);
                var submission = new Submission(GroupRangeId, 0, [new RevisionWrites(writes)], directory.Version);
                SubmitResult submitted;
                try
                {
                    submitted = await Sequencer.SubmitAsync(submission);
                }
                catch (Exception e) when (e is not StoreUnavailableException)
                {
                    await ResetAsync(locked, groupId);
                    throw;
                }
                switch (submitted.Statuses[0])
                {
                    case SubmitStatus.LeaseNotFound:
                        return TxnResult.Failed(KvStatus.LeaseNotFound);
                    case SubmitStatus.Retry:
                        continue;
                }
                var revision = submitted.FirstRevision;
                evaluation.Writes.ForEach(v => v.Revision = revision);
                while (locked.Count > 0)
                {
                    var rangeId = ranges[locked.Count - 1];
                    try
                    {
                        await locked[^1].ApplyGroupAsync(groupId, revision, writes.FindAll(w => w.RangeId == rangeId));
                    }
                    catch
                    {
                        await ResetAsync(locked, groupId);
                        throw;
                    }
                    locked.RemoveAt(locked.Count - 1);
                }
                return evaluation.Result.ToResult(revision, wrote: true);
            }
            finally
            {
                foreach (var range in locked)
                {
                    await range.ReleaseAsync(groupId);
                }
            }
        }
    }

    public async Task<TxnResult> ReadTxnAsync(TxnRequest txn, long revision)
    {
        var spans = TxnKeys.SpansOf(txn);
        var directory = await Sequencer.DirectoryAsync();
        var kvs = new List<KeyValue>();
        foreach (var rangeId in RangesFor(spans, directory.RangeIds))
        {
            var range = GrainFactory.GetGrain<IKeyRangeGrain>(rangeId);
            foreach (var span in spans)
            {
                var read = await range.RangeAsync(new RangeQuery(span, revision, 0, false, false), revision);
                if (read.Status != KvStatus.Ok)
                {
                    return TxnResult.Failed(read.Status);
                }
                kvs.AddRange(read.Kvs);
            }
        }
        var evaluation = TxnEvaluator.Evaluate(txn, new SnapshotView(kvs))!;
        if (evaluation.Refusal != KvStatus.Ok)
        {
            return TxnResult.Failed(evaluation.Refusal);
        }
        return evaluation.Result.ToResult(revision, wrote: false);
    }

    public async Task<LeaseRevokeResult> RevokeLeaseAsync(long id)
    {
        var ended = await Sequencer.EndLeaseAsync(id);
        if (ended.Outcome != LeaseOutcome.Ok || ended.Keys.Count == 0)
        {
            return new LeaseRevokeResult(ended.Outcome, ended.Revision);
        }
        var deleted = await TxnAsync(LeaseKeyDeletion.Of(id, ended.Keys));
        return new LeaseRevokeResult(LeaseOutcome.Ok, deleted.Revision);
    }

    /// <summary>
    /// The group's outcome is unknown: every range still locked forgets its memory and reloads from the store,
    /// which holds the group if it committed.
    /// </summary>
    private static async Task ResetAsync(List<IKeyRangeGrain> locked, Guid groupId)
    {
        foreach (var range in locked)
        {
            await range.ResetAsync(groupId);
        }
        locked.Clear();
    }

    private static List<string> RangesFor(List<KeySpan> spans, IReadOnlyList<string> rangeIds) =>
        [.. spans.SelectMany(s => KeyRouter.RangesFor(s, rangeIds)).Distinct().Order(StringComparer.Ordinal)];

    private static KeyWrite ToWrite(KeyVersion version) =>
        version.ToWrite(version.PendingCreator is null ? -1 : 0, -1, KeyRouter.RangeOf(version.Key));
}

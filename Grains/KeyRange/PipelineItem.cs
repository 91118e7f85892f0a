using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Mvcc;

namespace KubeBrain.Grains.KeyRange;

/// <summary>
/// One accepted write of a key range: its pending versions, in the order the transaction wrote them, and the
/// promise of its fate. The promise never faults: a storage failure is an outcome too.
/// </summary>
internal sealed class PipelineItem(List<KeyVersion> writes)
{
    private readonly TaskCompletionSource<ItemOutcome> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public List<KeyVersion> Writes { get; } = writes;

    public Task<ItemOutcome> Outcome => _outcome.Task;

    public void Resolve(ItemOutcome outcome) => _outcome.TrySetResult(outcome);
}

/// <summary>What became of a <see cref="PipelineItem"/>.</summary>
internal readonly record struct ItemOutcome(SubmitStatus Status, long Revision, Exception? Failure)
{
    public static ItemOutcome Committed(long revision) => new(SubmitStatus.Committed, revision, null);

    public static ItemOutcome Refused(SubmitStatus status) => new(status, 0, null);

    public static ItemOutcome Failed(Exception failure) => new(SubmitStatus.Retry, 0, failure);
}

/// <summary>A multi-range group's hold on some spans of a key range.</summary>
internal sealed class GroupLock(Guid groupId, IReadOnlyList<KeySpan> spans)
{
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Guid GroupId { get; } = groupId;

    public Task Released => _released.Task;

    public bool Overlaps(IReadOnlyList<KeySpan> other)
    {
        foreach (var mine in spans)
        {
            foreach (var theirs in other)
            {
                if (mine.Overlaps(theirs))
                {
                    return true;
                }
            }
        }
        return false;
    }

    public void Release() => _released.TrySetResult();
}

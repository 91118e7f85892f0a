using System.Runtime.CompilerServices;
using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Storage;

namespace KubeBrain.Grains.Sequencer;

/// <summary>
/// The watch feed. The sequencer keeps a bounded in-memory tail (by revisions and bytes) of the newest committed revisions, each with
/// its events and their <c>prev_kv</c> as the validating range supplied them. A feed reads older revisions from
/// the store, whole, joining each row to the version it replaced, and switches to the tail at an exact revision;
/// the compaction revision is checked before every step, so a start below it ends the feed with
/// <see cref="FeedItem.Compacted"/>. Items are contiguous by construction: a feed never skips a revision.
/// </summary>
internal sealed partial class RevisionSequencerGrain
{
    private const int TailRevisions = 20_000;
    private const long TailBytes = 64L * 1024 * 1024;
    private const int StoreReadRevisions = 256;
    private static readonly TimeSpan FeedHeartbeat = TimeSpan.FromSeconds(1);

    private readonly List<FeedItem> _tail = [];
    private long _tailStart;
    private long _tailBytes;
    private TaskCompletionSource _committed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async IAsyncEnumerable<FeedItem> FeedAsync(long fromRevision, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var next = Math.Max(fromRevision, 2);
        while (true)
        {
            if (next < _compact)
            {
                yield return FeedItem.Compacted(_compact);
                yield break;
            }
            if (next > _current)
            {
                var committed = _committed.Task;
                if (await Task.WhenAny(committed, Task.Delay(FeedHeartbeat, cancellationToken)) != committed)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    yield return FeedItem.Heartbeat;
                }
                continue;
            }
            if (next >= _tailStart)
            {
                var items = _tail.GetRange((int)(next - _tailStart), (int)(_current - next + 1));
                foreach (var item in items)
                {
                    yield return item;
                }
                next = items[^1].Revision + 1;
                continue;
            }
            var stored = await metrics.TimeAsync(StoreRead.Revisions, () => store.ReadRevisionsAsync(next, StoreReadRevisions, cancellationToken));
            if (stored.Status == KvStatus.Compacted)
            {
                yield return FeedItem.Compacted(stored.CompactRevision);
                yield break;
            }
            foreach (var item in ToFeedItems(stored))
            {
                yield return item;
                next = item.Revision + 1;
            }
        }
    }

    /// <summary>Starts an empty tail just above the committed revision (at activation).</summary>
    private void StartFeedAt(long revision)
    {
        _tail.Clear();
        _tailStart = revision;
        _tailBytes = 0;
    }

    /// <summary>
    /// Appends a flush's committed revisions to the tail, wakes the feeds waiting for them and announces them to
    /// a frontend in this process.
    /// </summary>
    private void Publish(List<FeedItem> committed)
    {
        _tail.AddRange(committed);
        committed.ForEach(item => _tailBytes += SizeOf(item));
        var drop = 0;
        while (drop < _tail.Count - 1 && (_tail.Count - drop > TailRevisions || _tailBytes > TailBytes))
        {
            _tailBytes -= SizeOf(_tail[drop]);
            drop++;
        }
        _tail.RemoveRange(0, drop);
        _tailStart += drop;
        var waiting = _committed;
        _committed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        waiting.TrySetResult();
        localCommits.Publish(committed);
    }

    /// <summary>About how many bytes an item holds in memory.</summary>
    private static long SizeOf(FeedItem item)
    {
        long size = 64;
        for (var i = 0; i < item.Events.Count; i++)
        {
            var e = item.Events[i];
            size += 64 + e.Kv.Key.Length + e.Kv.Value.Length + (e.Prev?.Value.Length ?? 0);
        }
        return size;
    }

    /// <summary>Whole revisions from stored rows and the versions they replaced.</summary>
    private static List<FeedItem> ToFeedItems(Storage.RevisionsResult stored)
    {
        var items = new List<FeedItem>();
        var events = new List<WatchEvent>();
        var rows = stored.Rows;
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            events.Add(new WatchEvent(
                row.Tombstone,
                row.Tombstone ? new KeyValue(row.Key, 0, row.Revision, 0, [], 0) : new KeyValue(row.Key, row.CreateRevision, row.Revision, row.Version, row.Value, row.Lease),
                stored.Prevs[i]));
            if (i == rows.Count - 1 || rows[i + 1].Revision != row.Revision)
            {
                items.Add(new FeedItem(row.Revision, events, 0));
                events = [];
            }
        }
        return items;
    }
}

using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.EtcdFrontend.Watch;

/// <summary>
/// One watch on one stream. A watcher is synced when the hub delivers its events as they arrive; otherwise it
/// catches up from the feed on its own until it reaches the hub's revision and joins the synced set there.
/// <see cref="Next"/> is the next revision it must receive; everything below it was delivered.
/// </summary>
internal sealed class Watcher(WatchStream stream, long id, KeySpan span, long startRevision)
{
    private readonly CancellationTokenSource _cancel = new();

    public WatchStream Stream { get; } = stream;

    public long Id { get; } = id;

    public KeySpan Span { get; } = span;

    /// <summary>The revision the watch was asked to start from (after resolving 0 to "now").</summary>
    public long StartRevision { get; } = startRevision;

    public bool NoPut { get; init; }

    public bool NoDelete { get; init; }

    public bool PrevKv { get; init; }

    public bool ProgressNotify { get; init; }

    public bool Fragment { get; init; }

    /// <summary>The next revision to deliver. Guarded by the hub's lock.</summary>
    public long Next { get; set; } = startRevision;

    /// <summary>True while the hub delivers to it. Guarded by the hub's lock.</summary>
    public bool Synced { get; set; }

    /// <summary>True when it received events since the last progress notification. Guarded by the hub's lock.</summary>
    public bool SawEvents { get; set; }

    /// <summary>Ends its catch-up, if any, when the watch is cancelled or its stream closes.</summary>
    public CancellationToken Cancelled => _cancel.Token;

    public void Cancel() => _cancel.Cancel();

    /// <summary>Whether any event of the revision is for this watcher.</summary>
    public bool Wants(FeedItem item)
    {
        var events = item.Events;
        for (var i = 0; i < events.Count; i++)
        {
            if (Wants(events[i]))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The events of one revision this watcher wants, in order, as sent; empty when none.</summary>
    public EventSelection Select(RevisionEvents revision)
    {
        var events = revision.Item.Events;
        var wanted = 0;
        for (var i = 0; i < events.Count; i++)
        {
            wanted += Wants(events[i]) ? 1 : 0;
        }
        if (wanted == 0)
        {
            return EventSelection.Empty;
        }
        var all = revision.Encoded(PrevKv);
        if (wanted == events.Count)
        {
            return all;
        }
        var selected = new List<ReadOnlyMemory<byte>>(wanted);
        var size = 0;
        for (var i = 0; i < events.Count; i++)
        {
            if (Wants(events[i]))
            {
                selected.Add(all.Events[i]);
                size += WatchReply.SizeOf(all.Events[i]);
            }
        }
        return new EventSelection(selected, size);
    }

    private bool Wants(WatchEvent e) => (e.IsDelete ? !NoDelete : !NoPut) && Span.Contains(e.Kv.Key);
}

using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.Grains.Interfaces;

/// <summary>
/// A silo's in-process announcement of the revisions its sequencer activation committed, in commit order, for a
/// frontend hosted in the same process: it sees a commit without the Orleans message hop of the watch feed. It
/// is a shortcut only: subscribers may miss announcements (the sequencer may live elsewhere, or move), so they
/// take an announced revision only when it is the very next one they lack and leave the rest to the feed.
/// </summary>
public sealed class LocalCommits
{
    private readonly Lock _lock = new();
    private Action<IReadOnlyList<FeedItem>>[] _subscribers = [];

    /// <summary>Calls <paramref name="onCommitted"/> with every later batch of committed revisions until disposed.</summary>
    /// <remarks>The callback runs on the committing grain's turn: it must only hand the batch over, never block.</remarks>
    public IDisposable Subscribe(Action<IReadOnlyList<FeedItem>> onCommitted)
    {
        lock (_lock)
        {
            _subscribers = [.. _subscribers, onCommitted];
        }
        return new Subscription(this, onCommitted);
    }

    /// <summary>Announces revisions that are durably committed, whole, in increasing order.</summary>
    public void Publish(IReadOnlyList<FeedItem> committed)
    {
        foreach (var subscriber in Volatile.Read(ref _subscribers))
        {
            subscriber(committed);
        }
    }

    private void Unsubscribe(Action<IReadOnlyList<FeedItem>> onCommitted)
    {
        lock (_lock)
        {
            _subscribers = [.. _subscribers.Where(s => s != onCommitted)];
        }
    }

    private sealed class Subscription(LocalCommits owner, Action<IReadOnlyList<FeedItem>> onCommitted) : IDisposable
    {
        public void Dispose() => owner.Unsubscribe(onCommitted);
    }
}

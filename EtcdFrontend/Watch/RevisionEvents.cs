using Google.Protobuf;
using KubeBrain.EtcdFrontend.Mapping;
using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.EtcdFrontend.Watch;

/// <summary>
/// One revision from the feed with its events encoded once, with and without prev_kv, as the bytes every watcher's
/// response carries: fanning a revision out to a thousand watchers encodes it at most twice.
/// </summary>
internal sealed class RevisionEvents(FeedItem item)
{
    private readonly Lock _lock = new();
    private EventSelection? _withPrev;
    private EventSelection? _withoutPrev;

    public FeedItem Item { get; } = item;

    /// <summary>
    /// Every event of the revision as sent; safe to call from every stream's send loop at once. Once encoded, the
    /// selection is read without the lock: it is immutable and published whole.
    /// </summary>
    public EventSelection Encoded(bool withPrevKv)
    {
        if ((withPrevKv ? Volatile.Read(ref _withPrev) : Volatile.Read(ref _withoutPrev)) is { } encoded)
        {
            return encoded;
        }
        lock (_lock)
        {
            return withPrevKv ? _withPrev ??= Encode(true) : _withoutPrev ??= Encode(false);
        }
    }

    private EventSelection Encode(bool withPrevKv)
    {
        var events = new ReadOnlyMemory<byte>[Item.Events.Count];
        var size = 0;
        for (var i = 0; i < events.Length; i++)
        {
            events[i] = ProtoMapping.ToProto(Item.Events[i], withPrevKv).ToByteArray();
            size += WatchReply.SizeOf(events[i]);
        }
        return new EventSelection(events, size);
    }
}

/// <summary>Encoded events, in order, and the bytes they take in a response.</summary>
internal sealed record EventSelection(IReadOnlyList<ReadOnlyMemory<byte>> Events, int Size)
{
    public static EventSelection Empty { get; } = new([], 0);
}

using KubeBrain.EtcdFrontend.Mapping;
using KubeBrain.Grains.Interfaces.Model;
using Mvccpb = KubeBrain.Protos.Mvccpb;

namespace KubeBrain.EtcdFrontend.Watch;

/// <summary>
/// One revision from the feed with its events encoded once, with and without prev_kv, and shared by every
/// watcher's response: fanning a revision out to a thousand watchers encodes it at most twice.
/// </summary>
internal sealed class RevisionEvents(FeedItem item)
{
    private readonly Lock _lock = new();
    private Mvccpb.Event?[]? _withPrev;
    private Mvccpb.Event?[]? _withoutPrev;

    public FeedItem Item { get; } = item;

    /// <summary>Event <paramref name="index"/> as sent; safe to call from every stream's send loop at once.</summary>
    public Mvccpb.Event Encoded(int index, bool withPrevKv)
    {
        lock (_lock)
        {
            var cache = withPrevKv ? _withPrev ??= new Mvccpb.Event?[Item.Events.Count] : _withoutPrev ??= new Mvccpb.Event?[Item.Events.Count];
            return cache[index] ??= ProtoMapping.ToProto(Item.Events[index], withPrevKv);
        }
    }
}

namespace KubeBrain.Grains.Interfaces.Model;

/// <summary>
/// One change of one key, as a watcher sees it: a PUT with the full new key-value, or a DELETE whose key-value
/// holds only the key and the deleting revision; <see cref="Prev"/> is the version it replaced, if the key was live.
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.WatchEvent")]
public sealed record WatchEvent(
    [property: Id(0)] bool IsDelete,
    [property: Id(1)] KeyValue Kv,
    [property: Id(2)] KeyValue? Prev);

/// <summary>
/// One whole committed revision on the watch feed, its events in the order the revision wrote them. A feed that
/// cannot go on because its next revision was compacted ends with an item whose <see cref="CompactRevision"/>
/// is non-zero and which carries no events. <see cref="Heartbeat"/> items carry nothing and are skipped.
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.FeedItem")]
public sealed record FeedItem(
    [property: Id(0)] long Revision,
    [property: Id(1)] IReadOnlyList<WatchEvent> Events,
    [property: Id(2)] long CompactRevision)
{
    /// <summary>The item that ends a feed whose next revision is below the compaction revision.</summary>
    public static FeedItem Compacted(long compactRevision) => new(0, [], compactRevision);

    /// <summary>
    /// An item carrying nothing, sent while no revision commits, so that a feed's pending read ends regularly and
    /// the sequencer can deactivate (or its silo stop) without waiting for a long poll.
    /// </summary>
    public static FeedItem Heartbeat { get; } = new(0, [], 0);

    /// <summary>True for <see cref="Heartbeat"/>.</summary>
    public bool IsHeartbeat => Revision == 0 && CompactRevision == 0;
}

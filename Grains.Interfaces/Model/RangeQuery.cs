namespace KubeBrain.Grains.Interfaces.Model;

/// <summary>etcd's RangeRequest.SortOrder.</summary>
public enum RangeSortOrder
{
    None = 0,
    Ascend = 1,
    Descend = 2,
}

/// <summary>etcd's RangeRequest.SortTarget.</summary>
public enum RangeSortTarget
{
    Key = 0,
    Version = 1,
    Create = 2,
    Mod = 3,
    Value = 4,
}

/// <summary>
/// A read of the live keys in <see cref="Span"/> as of <see cref="Revision"/> (0 = the latest), shaped as etcd
/// shapes a RangeResponse (see <see cref="RangeShaping"/>): <see cref="Limit"/> 0 means no limit,
/// <see cref="KeysOnly"/> clears values, <see cref="CountOnly"/> returns only the count, the four revision
/// bounds (0 = none) drop key-values outside them, and a sort reorders what is left before the limit applies.
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.RangeQuery")]
public sealed record RangeQuery(
    [property: Id(0)] KeySpan Span,
    [property: Id(1)] long Revision,
    [property: Id(2)] long Limit,
    [property: Id(3)] bool KeysOnly,
    [property: Id(4)] bool CountOnly)
{
    [Id(5)] public RangeSortOrder SortOrder { get; init; }

    [Id(6)] public RangeSortTarget SortTarget { get; init; }

    [Id(7)] public long MinModRevision { get; init; }

    [Id(8)] public long MaxModRevision { get; init; }

    [Id(9)] public long MinCreateRevision { get; init; }

    [Id(10)] public long MaxCreateRevision { get; init; }

    /// <summary>True when shaping needs every key of the span, not only the first <see cref="Limit"/> + 1.</summary>
    public bool NeedsAllKeys =>
        SortOrder != RangeSortOrder.None || MinModRevision != 0 || MaxModRevision != 0 || MinCreateRevision != 0 || MaxCreateRevision != 0;

    /// <summary>How many key-values (in key order) shaping needs; 0 means all of them.</summary>
    public long FetchLimit => NeedsAllKeys || Limit <= 0 || Limit == long.MaxValue ? 0 : Limit + 1;
}

/// <summary>
/// The answer to a <see cref="RangeQuery"/>: at most <c>Limit</c> key-values, the exact number of live keys in
/// the span (independent of limit and bounds) and whether the limit cut some off.
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.RangeResult")]
public sealed record RangeResult(
    [property: Id(0)] KvStatus Status,
    [property: Id(1)] IReadOnlyList<KeyValue> Kvs,
    [property: Id(2)] long Count,
    [property: Id(3)] bool More)
{
    /// <summary>A result carrying only a failure status.</summary>
    public static RangeResult Failed(KvStatus status) => new(status, [], 0, false);
}

namespace KubeBrain.Grains.Interfaces.Model;

/// <summary>
/// A read of the live keys in <see cref="Span"/> as of <see cref="Revision"/> (0 = the latest), in ascending key
/// order. <see cref="Limit"/> 0 means no limit; <see cref="KeysOnly"/> clears values; <see cref="CountOnly"/>
/// returns only the count.
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.RangeQuery")]
public sealed record RangeQuery(
    [property: Id(0)] KeySpan Span,
    [property: Id(1)] long Revision,
    [property: Id(2)] long Limit,
    [property: Id(3)] bool KeysOnly,
    [property: Id(4)] bool CountOnly);

/// <summary>
/// The answer to a <see cref="RangeQuery"/>: at most <c>Limit</c> key-values, the exact number of live keys in
/// the span (independent of the limit) and whether more keys follow.
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

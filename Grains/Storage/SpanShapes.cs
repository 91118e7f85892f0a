using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.Grains.Storage;

/// <summary>
/// The three forms a non-empty span takes in SQL, over a log aliased <c>r</c> with the span bound to
/// <c>@start</c> and <c>@end</c>; keys compare as unsigned bytes in both SQL backends.
/// </summary>
internal static class SpanShapes
{
    public const int Count = 3;
    private const int Single = 0;
    private const int Interval = 1;
    private const int Unbounded = 2;

    public static int Of(KeySpan span) => span.IsSingle ? Single : span.IsUnbounded ? Unbounded : Interval;

    public static string Predicate(int shape) => shape switch
    {
        Single => "r.key = @start",
        Interval => "r.key >= @start AND r.key < @end",
        _ => "r.key >= @start",
    };

    /// <summary>One SQL text per shape, indexed by shape, made by <paramref name="sql"/> from the shape's predicate.</summary>
    public static string[] Each(Func<string, string> sql)
    {
        var texts = new string[Count];
        for (var shape = 0; shape < Count; shape++)
        {
            texts[shape] = sql(Predicate(shape));
        }
        return texts;
    }

    /// <summary>Whether the predicate of <paramref name="shape"/> reads <c>@end</c>.</summary>
    public static bool UsesEnd(int shape) => shape == Interval;
}

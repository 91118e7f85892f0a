namespace KubeBrain.Grains.Storage;

/// <summary>
/// A SQL store's reads by key as texts, one per span shape (<see cref="SpanShapes"/>), each over the whole log or
/// within the key group <c>@group</c> (<see cref="KeyGroups"/>): made once from the store's SQL for the live rows and
/// for their count, given a key predicate, and its expression for a row's key group.
/// </summary>
internal sealed class SpanQueries(Func<string, string> rows, Func<string, string> count, string keyGroup)
{
    private readonly string[] _rows = SpanShapes.Each(rows);
    private readonly string[] _counts = SpanShapes.Each(count);
    private readonly string[] _groupRows = SpanShapes.Each(predicate => rows(InGroup(predicate, keyGroup)));
    private readonly string[] _groupCounts = SpanShapes.Each(predicate => count(InGroup(predicate, keyGroup)));

    /// <summary>
    /// The live key-values of a span shape at <c>@revision</c>, in key order, at most <c>@limit</c>, read with
    /// <see cref="LogQueries.ReadKeyValue"/>; <paramref name="inGroup"/> scans only the rows of the key group
    /// <c>@group</c>, which must hold every key of the span (<see cref="KeyGroups.Of"/>).
    /// </summary>
    public string Rows(int shape, bool inGroup) => (inGroup ? _groupRows : _rows)[shape];

    /// <summary>How many keys of a span shape are live at <c>@revision</c>; <paramref name="inGroup"/> as for <see cref="Rows"/>.</summary>
    public string Count(int shape, bool inGroup) => (inGroup ? _groupCounts : _counts)[shape];

    private static string InGroup(string keyPredicate, string keyGroup) => $"{keyPredicate} AND {keyGroup} = @group";
}

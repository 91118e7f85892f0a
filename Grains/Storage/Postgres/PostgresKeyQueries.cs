namespace KubeBrain.Grains.Storage.Postgres;

/// <summary>
/// PostgreSQL's reads by key over the log aliased <c>r</c>, driven by its index on (key, revision): the key range
/// and each row's newer-row probe are both index lookups.
/// </summary>
internal static class PostgresKeyQueries
{
    /// <summary>
    /// The values of the rows named by the arrays <c>@revisions</c> and <c>@keys</c>, read pairwise, as (position from
    /// 1, value); a pair without a row is left out.
    /// </summary>
    public const string ReadValues =
        """
        SELECT w.ord, r.value FROM unnest(@revisions, @keys) WITH ORDINALITY AS w(revision, key, ord)
        JOIN kv_log AS r ON r.revision = w.revision AND r.key = w.key
        """;

    /// <summary>The newest row of every key, where it is live and carries a lease, as (lease, key) in key order.</summary>
    public const string LeasedKeys =
        """
        SELECT r.lease, r.key FROM kv_log AS r
        WHERE r.lease <> 0 AND NOT r.tombstone
        AND NOT EXISTS (SELECT 1 FROM kv_log AS n WHERE n.key = r.key AND n.revision > r.revision)
        ORDER BY r.key
        """;

    private static readonly string[] RangeRowsByShape = SpanShapes.Each(predicate =>
        $"SELECT r.key, r.create_revision, r.revision, r.version, r.value, r.lease FROM kv_log AS r WHERE {LiveRowsWhere(predicate)} ORDER BY r.key LIMIT @limit");

    private static readonly string[] RangeCountsByShape = SpanShapes.Each(predicate => $"SELECT count(*) FROM kv_log AS r WHERE {LiveRowsWhere(predicate)}");

    /// <summary>The live key-values of a span shape at <c>@revision</c>, in key order, at most <c>@limit</c>; read with <see cref="LogQueries.ReadKeyValue"/>.</summary>
    public static string RangeRows(int shape) => RangeRowsByShape[shape];

    /// <summary>How many keys of a span shape are live at <c>@revision</c>.</summary>
    public static string RangeCount(int shape) => RangeCountsByShape[shape];

    /// <summary>
    /// The rows of the span that are live at <c>@revision</c>: not tombstones, and the newest row of their key at
    /// or below it.
    /// </summary>
    private static string LiveRowsWhere(string keyPredicate) =>
        $"""
        {keyPredicate} AND r.revision <= @revision AND NOT r.tombstone
        AND NOT EXISTS (SELECT 1 FROM kv_log AS n WHERE n.key = r.key AND n.revision > r.revision AND n.revision <= @revision)
        """;
}

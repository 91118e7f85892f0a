namespace KubeBrain.Grains.Storage.Sqlite;

/// <summary>
/// SQLite's reads by key. The log is not indexed by key, so that an append writes only at the end of the table
/// and of its (revision, sub) key, whichever keys it writes; an index on keys took a page write per row at a
/// random place. A read by key therefore scans the log up to its revision and finds each key's newest row there by
/// grouping. Such reads are rare: a key range's load when it activates, reads of history from before that load,
/// the key count when the sequencer activates, and the leased keys when it restores leases; everything else is
/// answered from the key ranges' memory.
/// </summary>
internal static class SqliteKeyQueries
{
    /// <summary>The newest row of every key, where it is live and carries a lease, as (lease, key) in key order.</summary>
    public const string LeasedKeys =
        """
        SELECT n.lease, n.key FROM (
            SELECT r.key AS key, max(r.revision), r.lease AS lease, r.tombstone AS tombstone FROM kv_log AS r GROUP BY r.key) AS n
        WHERE n.lease <> 0 AND NOT n.tombstone
        ORDER BY n.key
        """;

    private static readonly string[] RangeRowsByShape = SpanShapes.Each(predicate =>
        $"""
        SELECT v.key, v.create_revision, v.revision, v.version, v.value, v.lease
        FROM ({NewestRows(predicate)}) AS n CROSS JOIN kv_log AS v ON v.revision = n.revision AND v.key = n.key
        WHERE NOT n.tombstone
        ORDER BY n.key LIMIT @limit
        """);

    private static readonly string[] RangeCountsByShape = SpanShapes.Each(predicate => $"SELECT count(*) FROM ({NewestRows(predicate)}) AS n WHERE NOT n.tombstone");

    /// <summary>The live key-values of a span shape at <c>@revision</c>, in key order, at most <c>@limit</c>; read with <see cref="LogQueries.ReadKeyValue"/>.</summary>
    public static string RangeRows(int shape) => RangeRowsByShape[shape];

    /// <summary>How many keys of a span shape are live at <c>@revision</c>.</summary>
    public static string RangeCount(int shape) => RangeCountsByShape[shape];

    /// <summary>
    /// The newest row at or below <c>@revision</c> of every key of the span, as (key, revision, tombstone). SQLite
    /// takes a plain column of a query with a single <c>max()</c> from the row that holds the maximum, so the
    /// tombstone flag is that row's. The rows' values stay out of the grouping; the join reads only the newest.
    /// </summary>
    private static string NewestRows(string keyPredicate) =>
        $"SELECT r.key AS key, max(r.revision) AS revision, r.tombstone AS tombstone FROM kv_log AS r WHERE {keyPredicate} AND r.revision <= @revision GROUP BY r.key";
}

namespace KubeBrain.Grains.Storage.Postgres;

/// <summary>
/// PostgreSQL's reads by key over the log aliased <c>r</c>. The log is not indexed by key, so that an append writes
/// only at the end of its (revision, sub) key and of each key group it touches, whichever keys it writes; the index on
/// keys took an insert at a random place per row, most of what PostgreSQL spent per put. It is indexed by
/// (<see cref="KeyGroup"/>, revision) instead (<see cref="KeyGroups"/>). A read by key finds each key's newest row up
/// to its revision by sorting the rows it scans by key: those of the span's key group when the span lies in one (a
/// Kubernetes resource), else the whole log. Such reads are rare: a key range's load when it activates, reads of
/// history from before that load, the key count when the sequencer activates, and the leased keys when it restores
/// leases (<see cref="LeasedKeys"/>); everything else is answered from the key ranges' memory.
/// </summary>
internal static class PostgresKeyQueries
{
    /// <summary>
    /// A key's group, exactly as the index <c>kv_log_key_group</c> is made (migration 0003), so that reads that name
    /// it use the index.
    /// </summary>
    public static readonly string KeyGroup = KeyGroupOf("r.key");

    /// <summary>
    /// The values of the rows named by the arrays <c>@revisions</c> and <c>@keys</c>, read pairwise, as (position from
    /// 1, value); a pair without a row is left out. Each pair is looked up on its own, by the primary key's revision:
    /// <c>OFFSET 0</c> keeps the planner from turning the lookups into a join, which it may run as a scan of the whole
    /// log when its statistics are missing or stale (in a new store's first minute, for one).
    /// </summary>
    public const string ReadValues =
        """
        SELECT w.ord, r.value FROM unnest(@revisions, @keys) WITH ORDINALITY AS w(revision, key, ord)
        CROSS JOIN LATERAL (SELECT v.value FROM kv_log AS v WHERE v.revision = w.revision AND v.key = w.key OFFSET 0) AS r
        """;

    /// <summary>
    /// The newest row of every key, where it is live and carries a lease, as (lease, key) in key order. Only the key
    /// groups that hold a row attaching a lease (found through the partial index <c>kv_log_leased</c>) are read: in
    /// Kubernetes, leases and events, not pods.
    /// </summary>
    public static readonly string LeasedKeys =
        $"""
        SELECT n.lease, n.key FROM (
            SELECT DISTINCT ON (r.key) r.key, r.lease, r.tombstone FROM kv_log AS r
            WHERE {KeyGroup} IN (SELECT DISTINCT {KeyGroupOf("l.key")} FROM kv_log AS l WHERE l.lease <> 0 AND NOT l.tombstone)
            ORDER BY r.key, r.revision DESC) AS n
        WHERE n.lease <> 0 AND NOT n.tombstone
        ORDER BY n.key
        """;

    /// <summary>The reads of a span's live keys and of their count.</summary>
    public static readonly SpanQueries Spans = new(RangeRowsOf, RangeCountOf, KeyGroup);

    private static string KeyGroupOf(string key) =>
        $"""
        (CASE WHEN substr({key}, 1, 10) = '/registry/'::bytea AND position('/'::bytea IN substr({key}, 11)) > 1
              THEN substr({key}, 1, 10 + position('/'::bytea IN substr({key}, 11))) ELSE ''::bytea END)
        """;

    /// <summary>
    /// The live rows in key order, at most <c>@limit</c>. The newest rows are sorted by key and cut to the limit before
    /// any value is read; each one's value is then looked up by the primary key, in that order, so the values are not
    /// sorted. The lookups sit behind <c>OFFSET 0</c>, as in <see cref="ReadValues"/>.
    /// </summary>
    private static string RangeRowsOf(string keyPredicate) =>
        $"""
        SELECT v.key, v.create_revision, v.revision, v.version, v.value, v.lease
        FROM (SELECT n.key, n.revision FROM ({NewestRows(keyPredicate)}) AS n WHERE NOT n.tombstone ORDER BY n.key LIMIT @limit) AS l
        CROSS JOIN LATERAL (SELECT * FROM kv_log AS v WHERE v.revision = l.revision AND v.key = l.key OFFSET 0) AS v
        ORDER BY l.key
        """;

    private static string RangeCountOf(string keyPredicate) => $"SELECT count(*) FROM ({NewestRows(keyPredicate)}) AS n WHERE NOT n.tombstone";

    /// <summary>
    /// The newest row at or below <c>@revision</c> of every key of the span, as (key, revision, tombstone); the rows'
    /// values stay out of the sorting.
    /// </summary>
    private static string NewestRows(string keyPredicate) =>
        $"SELECT DISTINCT ON (r.key) r.key, r.revision, r.tombstone FROM kv_log AS r WHERE {keyPredicate} AND r.revision <= @revision ORDER BY r.key, r.revision DESC";
}

using System.Data.Common;
using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.Grains.Storage;

/// <summary>
/// The read queries of the SQL stores over the log table <c>kv_log</c> (aliased <c>r</c>) that SQLite and PostgreSQL
/// share, the readers of the rows they return and the rules of a range read. The tombstone column is tested as a
/// truth value, which both take (SQLite's 0/1 integer, PostgreSQL's boolean). Reads by key differ: PostgreSQL
/// indexes the log by key (<c>PostgresKeyQueries</c>), SQLite does not (<c>SqliteKeyQueries</c>).
/// </summary>
internal static class LogQueries
{
    /// <summary>The current and compaction revisions, read first in every snapshot.</summary>
    public const string ReadMeta = "SELECT current_revision, compact_revision FROM meta WHERE id = 1";

    /// <summary>
    /// Whole revisions <c>@from</c>..<c>@to</c> in (revision, sub) order, each row joined to the version it replaced;
    /// read with <see cref="ReadRevisionRow"/>.
    /// </summary>
    public const string ReadRevisions =
        """
        SELECT r.revision, r.sub, r.key, r.create_revision, r.version, r.lease, r.value, r.tombstone, r.prev_revision,
               r.range_id, r.range_epoch, p.create_revision, p.version, p.lease, p.value
        FROM kv_log AS r
        LEFT JOIN kv_log AS p ON r.prev_revision <> 0 AND p.key = r.key AND p.revision = r.prev_revision
        WHERE r.revision >= @from AND r.revision <= @to
        ORDER BY r.revision, r.sub
        """;

    public static KeyValue ReadKeyValue(DbDataReader reader) => new(
        reader.GetFieldValue<byte[]>(0),
        reader.GetInt64(1),
        reader.GetInt64(2),
        reader.GetInt64(3),
        reader.GetFieldValue<byte[]>(4),
        reader.GetInt64(5));

    /// <summary>A row of <see cref="ReadRevisions"/>: the log row and the version it replaced, null when the key was absent.</summary>
    public static (StoredRow Row, KeyValue? Prev) ReadRevisionRow(DbDataReader reader)
    {
        var row = new StoredRow(
            reader.GetInt64(0),
            reader.GetInt32(1),
            reader.GetFieldValue<byte[]>(2),
            reader.GetInt64(3),
            reader.GetInt64(4),
            reader.GetInt64(5),
            reader.GetFieldValue<byte[]>(6),
            reader.GetBoolean(7),
            reader.GetInt64(8),
            reader.GetString(9),
            reader.GetInt64(10));
        var prev = reader.IsDBNull(11)
            ? null
            : new KeyValue(row.Key, reader.GetInt64(11), row.PrevRevision, reader.GetInt64(12), reader.GetFieldValue<byte[]>(14), reader.GetInt64(13));
        return (row, prev);
    }

    /// <summary>
    /// The revision a range read is made at (<paramref name="revision"/>, or the current one for 0 or less), and the
    /// whole answer when no row needs reading: outside the window, or an empty span.
    /// </summary>
    public static (long ReadRevision, RangeResult? Answer) RangeWindow(long currentRevision, long compactRevision, KeySpan span, long revision)
    {
        var readRevision = revision <= 0 ? currentRevision : revision;
        if (readRevision > currentRevision)
        {
            return (readRevision, RangeResult.Failed(KvStatus.FutureRevision));
        }
        if (readRevision < compactRevision)
        {
            return (readRevision, RangeResult.Failed(KvStatus.Compacted));
        }
        return (readRevision, span.IsEmpty ? new RangeResult(KvStatus.Ok, [], 0, false) : null);
    }

    /// <summary>How many rows to read for <paramref name="limit"/>: one more, which shows whether it cuts keys off; null for all.</summary>
    public static long? RowLimit(long limit) => limit is > 0 and < long.MaxValue ? limit + 1 : null;

    /// <summary>Drops the extra row read by <see cref="RowLimit"/>; true when the limit cut keys off (the count needs a query then).</summary>
    public static bool CutToLimit(List<KeyValue> kvs, long limit)
    {
        if (limit <= 0 || kvs.Count <= limit)
        {
            return false;
        }
        kvs.RemoveAt(kvs.Count - 1);
        return true;
    }
}

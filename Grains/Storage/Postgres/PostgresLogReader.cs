using KubeBrain.Grains.Interfaces.Model;
using Npgsql;
using NpgsqlTypes;

namespace KubeBrain.Grains.Storage.Postgres;

/// <summary>
/// The store's reads. A read that must be one snapshot (a range, whole revisions) runs in a REPEATABLE READ, READ
/// ONLY transaction that reads the metadata row first, so the window check and the rows come from the same
/// snapshot; the others are single statements. Each read takes a pooled connection of its own.
/// </summary>
internal static class PostgresLogReader
{
    private const string ReadMeta = "SELECT current_revision, compact_revision FROM meta WHERE id = 1";

    private const string ReadRevisionsSql =
        """
        SELECT r.revision, r.sub, r.key, r.create_revision, r.version, r.lease, r.value, r.tombstone, r.prev_revision,
               r.range_id, r.range_epoch, p.create_revision, p.version, p.lease, p.value
        FROM kv_log AS r
        LEFT JOIN kv_log AS p ON r.prev_revision <> 0 AND p.key = r.key AND p.revision = r.prev_revision
        WHERE r.revision >= @from AND r.revision <= @to
        ORDER BY r.revision, r.sub
        """;

    private const string ListLeasedKeysSql =
        """
        SELECT r.lease, r.key FROM kv_log AS r
        WHERE r.lease <> 0 AND NOT r.tombstone
        AND NOT EXISTS (SELECT 1 FROM kv_log AS n WHERE n.key = r.key AND n.revision > r.revision)
        ORDER BY r.key
        """;

    private static readonly string[] RangeRows = new string[SpanShapes.Count];
    private static readonly string[] RangeCounts = new string[SpanShapes.Count];

    static PostgresLogReader()
    {
        for (var shape = 0; shape < SpanShapes.Count; shape++)
        {
            var live = $"""
                {SpanShapes.Predicate(shape)} AND r.revision <= @revision AND NOT r.tombstone
                AND NOT EXISTS (SELECT 1 FROM kv_log AS n WHERE n.key = r.key AND n.revision > r.revision AND n.revision <= @revision)
                """;
            RangeRows[shape] =
                $"SELECT r.key, r.create_revision, r.revision, r.version, r.value, r.lease FROM kv_log AS r WHERE {live} ORDER BY r.key LIMIT @limit";
            RangeCounts[shape] = $"SELECT count(*) FROM kv_log AS r WHERE {live}";
        }
    }

    public static async Task<RangeResult> RangeAsync(
        NpgsqlDataSource dataSource, KeySpan span, long revision, long limit, bool countOnly, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await BeginSnapshotAsync(connection, cancellationToken);
        var (currentRevision, compactRevision) = await ReadMetaAsync(connection, transaction, cancellationToken);
        var readRevision = revision <= 0 ? currentRevision : revision;
        if (readRevision > currentRevision)
        {
            return RangeResult.Failed(KvStatus.FutureRevision);
        }
        if (readRevision < compactRevision)
        {
            return RangeResult.Failed(KvStatus.Compacted);
        }
        if (span.IsEmpty)
        {
            return new RangeResult(KvStatus.Ok, [], 0, false);
        }
        var shape = SpanShapes.Of(span);
        if (countOnly)
        {
            return new RangeResult(KvStatus.Ok, [], await CountAsync(connection, transaction, shape, span, readRevision, cancellationToken), false);
        }
        var kvs = new List<KeyValue>();
        await using (var rows = SpanCommand(RangeRows[shape], connection, transaction, shape, span, readRevision))
        {
            rows.Parameters.Add(new NpgsqlParameter("limit", NpgsqlDbType.Bigint)
            {
                Value = limit is > 0 and < long.MaxValue ? limit + 1 : DBNull.Value,
            });
            await using var reader = await rows.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                kvs.Add(new KeyValue(
                    reader.GetFieldValue<byte[]>(0),
                    reader.GetInt64(1),
                    reader.GetInt64(2),
                    reader.GetInt64(3),
                    reader.GetFieldValue<byte[]>(4),
                    reader.GetInt64(5)));
            }
        }
        if (limit <= 0 || kvs.Count <= limit)
        {
            return new RangeResult(KvStatus.Ok, kvs, kvs.Count, false);
        }
        kvs.RemoveAt(kvs.Count - 1);
        return new RangeResult(KvStatus.Ok, kvs, await CountAsync(connection, transaction, shape, span, readRevision, cancellationToken), true);
    }

    public static async Task<RevisionsResult> ReadRevisionsAsync(
        NpgsqlDataSource dataSource, long fromRevision, int maxRevisions, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await BeginSnapshotAsync(connection, cancellationToken);
        var (currentRevision, compactRevision) = await ReadMetaAsync(connection, transaction, cancellationToken);
        if (fromRevision < compactRevision)
        {
            return new RevisionsResult(KvStatus.Compacted, compactRevision, [], []);
        }
        var rows = new List<StoredRow>();
        var prevs = new List<KeyValue?>();
        await using var command = new NpgsqlCommand(ReadRevisionsSql, connection, transaction)
        {
            Parameters =
            {
                new NpgsqlParameter<long>("from", fromRevision),
                new NpgsqlParameter<long>("to", Math.Min(fromRevision + maxRevisions - 1, currentRevision)),
            },
        };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            prevs.Add(reader.IsDBNull(11)
                ? null
                : new KeyValue(reader.GetFieldValue<byte[]>(2), reader.GetInt64(11), reader.GetInt64(8), reader.GetInt64(12), reader.GetFieldValue<byte[]>(14), reader.GetInt64(13)));
            rows.Add(new StoredRow(
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
                reader.GetInt64(10)));
        }
        return new RevisionsResult(KvStatus.Ok, compactRevision, rows, prevs);
    }

    public static Task<IReadOnlyList<RangeOwner>> ListRangesAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken) =>
        ListAsync(dataSource, "SELECT range_id, epoch FROM range_owner ORDER BY range_id", r => new RangeOwner(r.GetString(0), r.GetInt64(1)), cancellationToken);

    public static Task<IReadOnlyList<StoredLease>> ListLeasesAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken) =>
        ListAsync(dataSource, "SELECT id, ttl, remaining_ttl FROM leases ORDER BY id", r => new StoredLease(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2)), cancellationToken);

    /// <summary>The newest row of every key, where it is live and carries a lease; one statement, so one snapshot.</summary>
    public static Task<IReadOnlyList<LeasedKey>> ListLeasedKeysAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken) =>
        ListAsync(dataSource, ListLeasedKeysSql, r => new LeasedKey(r.GetInt64(0), r.GetFieldValue<byte[]>(1)), cancellationToken);

    public static async Task<long> SizeAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT pg_database_size(current_database())");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task<NpgsqlTransaction> BeginSnapshotAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        try
        {
            await using var readOnly = new NpgsqlCommand("SET TRANSACTION READ ONLY", connection, transaction);
            await readOnly.ExecuteNonQueryAsync(cancellationToken);
            return transaction;
        }
        catch
        {
            await transaction.DisposeAsync();
            throw;
        }
    }

    private static async Task<(long Current, long Compact)> ReadMetaAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(ReadMeta, connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? (reader.GetInt64(0), reader.GetInt64(1))
            : throw new InvalidOperationException("The metadata row is missing.");
    }

    private static async Task<long> CountAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, int shape, KeySpan span, long revision, CancellationToken cancellationToken)
    {
        await using var command = SpanCommand(RangeCounts[shape], connection, transaction, shape, span, revision);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static NpgsqlCommand SpanCommand(string sql, NpgsqlConnection connection, NpgsqlTransaction transaction, int shape, KeySpan span, long revision)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<byte[]>("start", span.Start));
        if (SpanShapes.UsesEnd(shape))
        {
            command.Parameters.Add(new NpgsqlParameter<byte[]>("end", span.End!));
        }
        command.Parameters.Add(new NpgsqlParameter<long>("revision", revision));
        return command;
    }

    private static async Task<IReadOnlyList<T>> ListAsync<T>(
        NpgsqlDataSource dataSource, string sql, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var items = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add(read(reader));
        }
        return items;
    }
}

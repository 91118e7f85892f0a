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
    public static async Task<RangeResult> RangeAsync(
        NpgsqlDataSource dataSource, KeySpan span, long revision, long limit, bool countOnly, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await BeginSnapshotAsync(connection, cancellationToken);
        var (currentRevision, compactRevision) = await ReadMetaAsync(connection, transaction, cancellationToken);
        var (readRevision, answer) = LogQueries.RangeWindow(currentRevision, compactRevision, span, revision);
        if (answer is not null)
        {
            return answer;
        }
        var shape = SpanShapes.Of(span);
        var group = KeyGroups.Of(span);
        if (countOnly)
        {
            return new RangeResult(KvStatus.Ok, [], await CountAsync(connection, transaction, shape, group, span, readRevision, cancellationToken), false);
        }
        var kvs = new List<KeyValue>();
        await using (var rows = SpanCommand(PostgresKeyQueries.Spans.Rows(shape, group is not null), connection, transaction, shape, group, span, readRevision))
        {
            rows.Parameters.Add(new NpgsqlParameter("limit", NpgsqlDbType.Bigint) { Value = LogQueries.RowLimit(limit) ?? (object)DBNull.Value });
            await using var reader = await rows.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                kvs.Add(LogQueries.ReadKeyValue(reader));
            }
        }
        return LogQueries.CutToLimit(kvs, limit)
            ? new RangeResult(KvStatus.Ok, kvs, await CountAsync(connection, transaction, shape, group, span, readRevision, cancellationToken), true)
            : new RangeResult(KvStatus.Ok, kvs, kvs.Count, false);
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
        await using var command = new NpgsqlCommand(LogQueries.ReadRevisions, connection, transaction)
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
            var (row, prev) = LogQueries.ReadRevisionRow(reader);
            rows.Add(row);
            prevs.Add(prev);
        }
        return new RevisionsResult(KvStatus.Ok, compactRevision, rows, prevs);
    }

    public static async Task<IReadOnlyList<byte[]?>> ReadValuesAsync(
        NpgsqlDataSource dataSource, IReadOnlyList<KeyRevision> versions, CancellationToken cancellationToken)
    {
        var values = new byte[]?[versions.Count];
        if (versions.Count == 0)
        {
            return values;
        }
        await using var command = dataSource.CreateCommand(PostgresKeyQueries.ReadValues);
        command.Parameters.Add(new NpgsqlParameter<long[]>("revisions", [.. versions.Select(v => v.Revision)]));
        command.Parameters.Add(new NpgsqlParameter<byte[][]>("keys", [.. versions.Select(v => v.Key)]));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            values[reader.GetInt64(0) - 1] = reader.GetFieldValue<byte[]>(1);
        }
        return values;
    }

    public static Task<IReadOnlyList<RangeOwner>> ListRangesAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken) =>
        ListAsync(dataSource, "SELECT range_id, epoch FROM range_owner ORDER BY range_id", r => new RangeOwner(r.GetString(0), r.GetInt64(1)), cancellationToken);

    public static Task<IReadOnlyList<StoredLease>> ListLeasesAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken) =>
        ListAsync(dataSource, "SELECT id, ttl, remaining_ttl FROM leases ORDER BY id", r => new StoredLease(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2)), cancellationToken);

    /// <summary>The newest row of every key, where it is live and carries a lease; one statement, so one snapshot.</summary>
    public static Task<IReadOnlyList<LeasedKey>> ListLeasedKeysAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken) =>
        ListAsync(dataSource, PostgresKeyQueries.LeasedKeys, r => new LeasedKey(r.GetInt64(0), r.GetFieldValue<byte[]>(1)), cancellationToken);

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
        await using var command = new NpgsqlCommand(LogQueries.ReadMeta, connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? (reader.GetInt64(0), reader.GetInt64(1))
            : throw new InvalidOperationException("The metadata row is missing.");
    }

    private static async Task<long> CountAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, int shape, byte[]? group, KeySpan span, long revision, CancellationToken cancellationToken)
    {
        await using var command = SpanCommand(PostgresKeyQueries.Spans.Count(shape, group is not null), connection, transaction, shape, group, span, revision);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>A read of <paramref name="span"/>'s keys at <paramref name="revision"/>, within <paramref name="group"/> when not null.</summary>
    private static NpgsqlCommand SpanCommand(
        string sql, NpgsqlConnection connection, NpgsqlTransaction transaction, int shape, byte[]? group, KeySpan span, long revision)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<byte[]>("start", span.Start));
        if (SpanShapes.UsesEnd(shape))
        {
            command.Parameters.Add(new NpgsqlParameter<byte[]>("end", span.End!));
        }
        if (group is not null)
        {
            command.Parameters.Add(new NpgsqlParameter<byte[]>("group", group));
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

using KubeBrain.Grains.Interfaces.Model;
using Microsoft.Data.Sqlite;

namespace KubeBrain.Grains.Storage.Sqlite;

/// <summary>
/// One read connection with its prepared commands. Each request runs in one deferred transaction, so the
/// metadata and the rows it reads come from the same WAL snapshot. Not thread-safe: one request at a time.
/// </summary>
internal sealed class SqliteLogReader : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _readMeta;
    private readonly SqliteCommand _readRevisions;
    private readonly SqliteCommand _readValue;
    private readonly SqliteCommand _listRanges;
    private readonly SqliteCommand _size;
    private readonly SqliteCommand _listLeases;
    private readonly SqliteCommand _leasedKeys;
    private readonly SqliteCommand[] _rangeRows;
    private readonly SqliteCommand[] _rangeCounts;
    private readonly SqliteCommand[] _groupRangeRows;
    private readonly SqliteCommand[] _groupRangeCounts;

    private SqliteLogReader(SqliteConnection connection)
    {
        _connection = connection;
        _readMeta = SqliteCommands.Create(connection, LogQueries.ReadMeta);
        _readRevisions = SqliteCommands.Create(connection, LogQueries.ReadRevisions, "@from", "@to");
        _readValue = SqliteCommands.Create(connection, SqliteKeyQueries.ReadValue, "@revision", "@key");
        _listRanges = SqliteCommands.Create(connection, "SELECT range_id, epoch FROM range_owner ORDER BY range_id");
        _size = SqliteCommands.Create(connection, "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()");
        _listLeases = SqliteCommands.Create(connection, "SELECT id, ttl, remaining_ttl FROM leases ORDER BY id");
        _leasedKeys = SqliteCommands.Create(connection, SqliteKeyQueries.LeasedKeys);
        _rangeRows = RangeCommands(connection, shape => SqliteKeyQueries.Spans.Rows(shape, inGroup: false));
        _rangeCounts = RangeCommands(connection, shape => SqliteKeyQueries.Spans.Count(shape, inGroup: false));
        _groupRangeRows = RangeCommands(connection, shape => SqliteKeyQueries.Spans.Rows(shape, inGroup: true));
        _groupRangeCounts = RangeCommands(connection, shape => SqliteKeyQueries.Spans.Count(shape, inGroup: true));
    }

    public static SqliteLogReader Open(string path)
    {
        var connection = SqliteCommands.OpenConnection(path, SqliteOpenMode.ReadWrite);
        try
        {
            SqliteCommands.Execute(connection, "PRAGMA query_only = ON");
            return new SqliteLogReader(connection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public RangeResult Range(KeySpan span, long revision, long limit, bool countOnly)
    {
        using var transaction = _connection.BeginTransaction(deferred: true);
        var (currentRevision, compactRevision) = ReadMeta(transaction);
        var (readRevision, answer) = LogQueries.RangeWindow(currentRevision, compactRevision, span, revision);
        if (answer is not null)
        {
            return answer;
        }
        var shape = SpanShapes.Of(span);
        var group = KeyGroups.Of(span);
        if (countOnly)
        {
            return new RangeResult(KvStatus.Ok, [], Count(transaction, shape, span, group, readRevision), false);
        }
        var kvs = ReadLive(transaction, shape, span, group, readRevision, limit);
        return LogQueries.CutToLimit(kvs, limit)
            ? new RangeResult(KvStatus.Ok, kvs, Count(transaction, shape, span, group, readRevision), true)
            : new RangeResult(KvStatus.Ok, kvs, kvs.Count, false);
    }

    public RevisionsResult ReadRevisions(long fromRevision, int maxRevisions)
    {
        using var transaction = _connection.BeginTransaction(deferred: true);
        var (currentRevision, compactRevision) = ReadMeta(transaction);
        if (fromRevision < compactRevision)
        {
            return new RevisionsResult(KvStatus.Compacted, compactRevision, [], []);
        }
        var command = _readRevisions;
        command.Transaction = transaction;
        command.Parameters[0].Value = fromRevision;
        command.Parameters[1].Value = Math.Min(fromRevision + maxRevisions - 1, currentRevision);
        var rows = new List<StoredRow>();
        var prevs = new List<KeyValue?>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                var (row, prev) = LogQueries.ReadRevisionRow(reader);
                rows.Add(row);
                prevs.Add(prev);
            }
        }
        return new RevisionsResult(KvStatus.Ok, compactRevision, rows, prevs);
    }

    public IReadOnlyList<byte[]?> ReadValues(IReadOnlyList<KeyRevision> versions)
    {
        var values = new byte[]?[versions.Count];
        using var transaction = _connection.BeginTransaction(deferred: true);
        _readValue.Transaction = transaction;
        for (var i = 0; i < versions.Count; i++)
        {
            _readValue.Parameters[0].Value = versions[i].Revision;
            _readValue.Parameters[1].Value = versions[i].Key;
            values[i] = (byte[]?)_readValue.ExecuteScalar();
        }
        return values;
    }

    public IReadOnlyList<RangeOwner> ListRanges()
    {
        var ranges = new List<RangeOwner>();
        using var reader = _listRanges.ExecuteReader();
        while (reader.Read())
        {
            ranges.Add(new RangeOwner(reader.GetString(0), reader.GetInt64(1)));
        }
        return ranges;
    }

    public long Size() => (long)_size.ExecuteScalar()!;

    public IReadOnlyList<StoredLease> ListLeases()
    {
        var leases = new List<StoredLease>();
        using var reader = _listLeases.ExecuteReader();
        while (reader.Read())
        {
            leases.Add(new StoredLease(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2)));
        }
        return leases;
    }

    /// <summary>The newest row of every key, where it is live and carries a lease; one read, so one snapshot.</summary>
    public IReadOnlyList<LeasedKey> ListLeasedKeys()
    {
        var keys = new List<LeasedKey>();
        using var reader = _leasedKeys.ExecuteReader();
        while (reader.Read())
        {
            keys.Add(new LeasedKey(reader.GetInt64(0), reader.GetFieldValue<byte[]>(1)));
        }
        return keys;
    }

    public void Dispose() => _connection.Dispose();

    private (long Current, long Compact) ReadMeta(SqliteTransaction transaction)
    {
        _readMeta.Transaction = transaction;
        using var reader = _readMeta.ExecuteReader();
        if (!reader.Read())
        {
            throw new InvalidOperationException("The metadata row is missing.");
        }
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private List<KeyValue> ReadLive(SqliteTransaction transaction, int shape, KeySpan span, byte[]? group, long revision, long limit)
    {
        var command = (group is null ? _rangeRows : _groupRangeRows)[shape];
        Bind(command, transaction, span, group, revision);
        command.Parameters[4].Value = LogQueries.RowLimit(limit) ?? -1;
        var kvs = new List<KeyValue>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            kvs.Add(LogQueries.ReadKeyValue(reader));
        }
        return kvs;
    }

    private long Count(SqliteTransaction transaction, int shape, KeySpan span, byte[]? group, long revision)
    {
        var command = (group is null ? _rangeCounts : _groupRangeCounts)[shape];
        Bind(command, transaction, span, group, revision);
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>One command per span shape, each with the parameters @start, @end, @group, @revision and @limit in that order.</summary>
    private static SqliteCommand[] RangeCommands(SqliteConnection connection, Func<int, string> sql)
    {
        var commands = new SqliteCommand[SpanShapes.Count];
        for (var shape = 0; shape < SpanShapes.Count; shape++)
        {
            commands[shape] = SqliteCommands.Create(connection, sql(shape), "@start", "@end", "@group", "@revision", "@limit");
        }
        return commands;
    }

    private static void Bind(SqliteCommand command, SqliteTransaction transaction, KeySpan span, byte[]? group, long revision)
    {
        command.Transaction = transaction;
        command.Parameters[0].Value = span.Start;
        command.Parameters[1].Value = (object?)span.End ?? DBNull.Value;
        command.Parameters[2].Value = (object?)group ?? DBNull.Value;
        command.Parameters[3].Value = revision;
    }
}

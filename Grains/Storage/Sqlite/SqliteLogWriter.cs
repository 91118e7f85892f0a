using KubeBrain.Grains.Interfaces.Model;
using Microsoft.Data.Sqlite;

namespace KubeBrain.Grains.Storage.Sqlite;

/// <summary>
/// The one write connection with its prepared statements. Every write runs in its own immediate transaction.
/// Not thread-safe: the store calls it one write at a time.
/// </summary>
internal sealed class SqliteLogWriter : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly SqliteRowInserter _inserter;
    private readonly SqliteCommand _readMeta;
    private readonly SqliteCommand _advance;
    private readonly SqliteCommand _takeEpoch;
    private readonly SqliteCommand _setCompactRevision;
    private readonly SqliteCommand _purgeCandidates;
    private readonly SqliteCommand _deleteRow;
    private readonly SqliteCommand _claimRange;
    private readonly SqliteCommand _grantLease;
    private readonly SqliteCommand _revokeLease;

    /// <summary>
    /// The (revision, sub) of the first row whose purge work may not be done yet. Rows before it have had their work
    /// done under some compaction revision; a later one only adds rows, so the cursor never moves back while this
    /// writer lives. A new writer starts at the beginning, and its first purge passes over the rows left below.
    /// </summary>
    private (long Revision, int Sub) _purgeCursor;

    private SqliteLogWriter(SqliteConnection connection)
    {
        _connection = connection;
        _inserter = new SqliteRowInserter(connection);
        _readMeta = SqliteCommands.Create(
            connection,
            "SELECT current_revision, compact_revision, sequencer_epoch FROM meta WHERE id = 1");
        _advance = SqliteCommands.Create(
            connection,
            """
            UPDATE meta SET current_revision = @last, last_batch_id = @batch
            WHERE id = 1 AND sequencer_epoch = @epoch AND current_revision = @previous
            """,
            "@last",
            "@batch",
            "@epoch",
            "@previous");
        _takeEpoch = SqliteCommands.Create(
            connection,
            """
            UPDATE meta SET sequencer_epoch = sequencer_epoch + 1 WHERE id = 1
            RETURNING current_revision, compact_revision, sequencer_epoch
            """);
        _setCompactRevision = SqliteCommands.Create(
            connection,
            "UPDATE meta SET compact_revision = @revision WHERE id = 1",
            "@revision");
        _purgeCandidates = SqliteCommands.Create(
            connection,
            """
            SELECT n.revision, n.sub, n.tombstone, p.revision, p.sub FROM kv_log AS n
            LEFT JOIN kv_log AS p ON n.prev_revision <> 0 AND p.revision = n.prev_revision AND p.key = n.key
            WHERE (n.revision, n.sub) >= (@revision, @sub) AND n.revision < @compact
            AND (n.tombstone <> 0 OR p.revision IS NOT NULL)
            ORDER BY n.revision, n.sub
            LIMIT @max
            """,
            "@revision",
            "@sub",
            "@compact",
            "@max");
        _deleteRow = SqliteCommands.Create(connection, "DELETE FROM kv_log WHERE revision = @revision AND sub = @sub", "@revision", "@sub");
        _claimRange = SqliteCommands.Create(
            connection,
            """
            INSERT INTO range_owner (range_id, epoch) VALUES (@range, 1)
            ON CONFLICT (range_id) DO UPDATE SET epoch = epoch + 1
            RETURNING epoch
            """,
            "@range");
        _grantLease = SqliteCommands.Create(
            connection,
            "INSERT INTO leases (id, ttl, remaining_ttl) VALUES (@id, @ttl, @remaining) ON CONFLICT (id) DO NOTHING",
            "@id",
            "@ttl",
            "@remaining");
        _revokeLease = SqliteCommands.Create(connection, "DELETE FROM leases WHERE id = @id", "@id");
    }

    /// <summary>
    /// Creates the file and its directory when missing, switches to WAL with full sync, applies the pending
    /// migrations and prepares the write statements.
    /// </summary>
    public static SqliteLogWriter Open(string path)
    {
        var directory = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
        var connection = SqliteCommands.OpenConnection(path, SqliteOpenMode.ReadWriteCreate);
        try
        {
            using (var journalMode = connection.CreateCommand())
            {
                journalMode.CommandText = "PRAGMA journal_mode = WAL";
                var mode = (string?)journalMode.ExecuteScalar();
                if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                {
                    throw new InvalidOperationException($"SQLite refused WAL journal mode for {path} (it is in {mode} mode).");
                }
            }
            SqliteCommands.Execute(connection, "PRAGMA synchronous = FULL");
            SqliteMigrations.Apply(connection);
            return new SqliteLogWriter(connection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public StoreMetadata TakeEpoch()
    {
        using var transaction = _connection.BeginTransaction(deferred: false);
        _takeEpoch.Transaction = transaction;
        StoreMetadata metadata;
        using (var reader = _takeEpoch.ExecuteReader())
        {
            metadata = reader.Read()
                ? new StoreMetadata(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2))
                : throw new InvalidOperationException("The metadata row is missing.");
        }
        transaction.Commit();
        return metadata;
    }

    /// <summary>
    /// Moves the current revision under the epoch fence, then inserts the rows, all in one transaction that is
    /// durable when this returns.
    /// </summary>
    public void Append(CommitBatch batch)
    {
        using var transaction = _connection.BeginTransaction(deferred: false);
        _advance.Transaction = transaction;
        _advance.Parameters[0].Value = batch.LastRevision;
        _advance.Parameters[1].Value = batch.BatchId;
        _advance.Parameters[2].Value = batch.Epoch;
        _advance.Parameters[3].Value = batch.FirstRevision - 1;
        if (_advance.ExecuteNonQuery() != 1)
        {
            var (current, _, epoch) = ReadMeta(transaction);
            throw new StoreFencedException(
                $"The append of revisions {batch.FirstRevision}..{batch.LastRevision} under epoch {batch.Epoch} was refused: the store is at revision {current} under epoch {epoch}.");
        }
        _inserter.Insert(batch.Rows);
        transaction.Commit();
    }

    public KvStatus SetCompactRevision(long epoch, long revision)
    {
        using var transaction = _connection.BeginTransaction(deferred: false);
        var (current, compact) = ReadFencedMeta(transaction, epoch, $"Setting the compaction revision {revision}");
        if (revision <= compact)
        {
            return KvStatus.Compacted;
        }
        if (revision > current)
        {
            return KvStatus.FutureRevision;
        }
        _setCompactRevision.Transaction = transaction;
        _setCompactRevision.Parameters[0].Value = revision;
        _setCompactRevision.ExecuteNonQuery();
        transaction.Commit();
        return KvStatus.Ok;
    }

    /// <summary>
    /// Deletes the oldest purgeable rows, found from the rows that make them so: every row below the compaction
    /// revision makes the version it replaced purgeable (its prev_revision, looked up by the primary key), and a
    /// tombstone below it is purgeable itself, after that version. Rows are taken in (revision, sub) order, so a
    /// version is always deleted before anything newer of its key that hides it, and a batch that stops inside a
    /// tombstone's pair has deleted the older row of the two.
    /// </summary>
    public int Purge(long epoch, int maxRows)
    {
        using var transaction = _connection.BeginTransaction(deferred: false);
        var (_, compact) = ReadFencedMeta(transaction, epoch, "Purging");
        if (_purgeCursor.Revision >= compact)
        {
            return 0;
        }
        var candidates = PurgeCandidates(transaction, compact, maxRows);
        var removed = 0;
        var cursor = candidates.Count < maxRows ? (compact, 0) : (candidates[^1].Revision, candidates[^1].Sub + 1);
        _deleteRow.Transaction = transaction;
        foreach (var candidate in candidates)
        {
            var removals = candidate.Removals();
            var taken = Math.Min(removals.Length, maxRows - removed);
            foreach (var (revision, sub) in removals[..taken])
            {
                removed += DeleteRow(revision, sub);
            }
            if (taken < removals.Length)
            {
                cursor = (candidate.Revision, candidate.Sub);
                break;
            }
        }
        transaction.Commit();
        _purgeCursor = cursor;
        return removed;
    }

    public long ClaimRange(long epoch, string rangeId) =>
        Fenced(epoch, $"The claim of range {rangeId}", _claimRange, command =>
        {
            command.Parameters[0].Value = rangeId;
            return (long)command.ExecuteScalar()!;
        });

    /// <summary>Inserts the lease unless its id is taken; true when it was inserted.</summary>
    public bool GrantLease(long epoch, StoredLease lease) =>
        Fenced(epoch, $"The grant of lease {lease.Id}", _grantLease, command =>
        {
            command.Parameters[0].Value = lease.Id;
            command.Parameters[1].Value = lease.Ttl;
            command.Parameters[2].Value = lease.RemainingTtl;
            return command.ExecuteNonQuery() == 1;
        });

    /// <summary>Deletes the lease; true when it was recorded.</summary>
    public bool RevokeLease(long epoch, long id) =>
        Fenced(epoch, $"The revoke of lease {id}", _revokeLease, command =>
        {
            command.Parameters[0].Value = id;
            return command.ExecuteNonQuery() == 1;
        });

    /// <summary>Runs one sequencer write in its own immediate transaction, after the fence of <paramref name="epoch"/>.</summary>
    private T Fenced<T>(long epoch, string write, SqliteCommand command, Func<SqliteCommand, T> run)
    {
        using var transaction = _connection.BeginTransaction(deferred: false);
        ReadFencedMeta(transaction, epoch, write);
        command.Transaction = transaction;
        var result = run(command);
        transaction.Commit();
        return result;
    }

    /// <summary>
    /// Up to <paramref name="maxRows"/> rows from the cursor up to the compaction revision that have purge work left: a
    /// tombstone, or a row whose replaced version is still there.
    /// </summary>
    private List<PurgeCandidate> PurgeCandidates(SqliteTransaction transaction, long compact, int maxRows)
    {
        _purgeCandidates.Transaction = transaction;
        _purgeCandidates.Parameters[0].Value = _purgeCursor.Revision;
        _purgeCandidates.Parameters[1].Value = _purgeCursor.Sub;
        _purgeCandidates.Parameters[2].Value = compact;
        _purgeCandidates.Parameters[3].Value = maxRows;
        var candidates = new List<PurgeCandidate>();
        using var reader = _purgeCandidates.ExecuteReader();
        while (reader.Read())
        {
            var replaced = reader.IsDBNull(3) ? ((long, int)?)null : (reader.GetInt64(3), reader.GetInt32(4));
            candidates.Add(new PurgeCandidate(reader.GetInt64(0), reader.GetInt32(1), reader.GetInt64(2) != 0, replaced));
        }
        return candidates;
    }

    private int DeleteRow(long revision, int sub)
    {
        _deleteRow.Parameters[0].Value = revision;
        _deleteRow.Parameters[1].Value = sub;
        return _deleteRow.ExecuteNonQuery();
    }

    public void Dispose()
    {
        _inserter.Dispose();
        _connection.Dispose();
    }

    /// <summary>
    /// The fence of a sequencer write, first in its immediate transaction (which holds the database's write lock, so
    /// no epoch can be taken before it commits): the current and compaction revisions where the stored epoch is
    /// <paramref name="epoch"/>, else <see cref="StoreFencedException"/>.
    /// </summary>
    private (long Current, long Compact) ReadFencedMeta(SqliteTransaction transaction, long epoch, string write)
    {
        var (current, compact, stored) = ReadMeta(transaction);
        return stored == epoch ? (current, compact) : throw StoreFencedException.Refused(write, epoch, stored);
    }

    private (long Current, long Compact, long Epoch) ReadMeta(SqliteTransaction transaction)
    {
        _readMeta.Transaction = transaction;
        using var reader = _readMeta.ExecuteReader();
        return reader.Read()
            ? (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2))
            : throw new InvalidOperationException("The metadata row is missing.");
    }

    /// <summary>A row with purge work left: the version it replaced, when still there, and whether it is a tombstone.</summary>
    private readonly record struct PurgeCandidate(long Revision, int Sub, bool Tombstone, (long Revision, int Sub)? Replaced)
    {
        /// <summary>The rows purging it deletes, older first: the replaced version, then the tombstone itself.</summary>
        public (long Revision, int Sub)[] Removals() => (Replaced, Tombstone) switch
        {
            ({ } replaced, true) => [replaced, (Revision, Sub)],
            ({ } replaced, false) => [replaced],
            (null, true) => [(Revision, Sub)],
            _ => [],
        };
    }
}

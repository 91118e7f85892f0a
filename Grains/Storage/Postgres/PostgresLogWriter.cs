using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Interfaces.Model;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace KubeBrain.Grains.Storage.Postgres;

/// <summary>
/// The store's writes, each a single statement (its own transaction) on a pooled connection, durable when it
/// returns (<c>synchronous_commit</c> is on for the store's connections). Appends run one at a time and resolve
/// a commit of unknown outcome before the next one starts; see <see cref="AppendAsync"/>.
/// </summary>
internal sealed partial class PostgresLogWriter(NpgsqlDataSource dataSource, ILogger logger)
{
    /// <summary>
    /// Moves the current revision from first − 1 to last under the fences and inserts the rows, in one statement
    /// and so one round trip and one transaction: the insert reads the update's result, so a fenced batch writes
    /// nothing. The update also refuses a batch id not above the one recorded (see <see cref="ResolveSql"/>), and
    /// renews the sequencer's time lease.
    /// </summary>
    private const string AppendSql =
        """
        WITH advanced AS (
            UPDATE meta SET current_revision = $1, last_batch_id = $2, lease_expiry = now() + $16
            WHERE id = 1 AND sequencer_epoch = $3 AND current_revision = $4 AND last_batch_id < $2
            RETURNING 1)
        INSERT INTO kv_log (revision, sub, key, create_revision, version, lease, value, tombstone, prev_revision, range_id, range_epoch)
        SELECT * FROM unnest($5::bigint[], $6::integer[], $7::bytea[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bytea[],
                             $12::boolean[], $13::bigint[], $14::text[], $15::bigint[])
        WHERE EXISTS (SELECT 1 FROM advanced)
        """;

    /// <summary>
    /// Resolves an append of unknown outcome: the update waits for the row lock the append may still hold, so it
    /// reads the row after that transaction has ended. Where the append did not commit, it records the batch id,
    /// so that neither the append nor any earlier batch of the epoch (ids grow) can commit should its statement
    /// still reach the server.
    /// </summary>
    private const string ResolveSql =
        """
        UPDATE meta SET last_batch_id = CASE WHEN sequencer_epoch = $1 AND current_revision = $2 THEN GREATEST(last_batch_id, $3) ELSE last_batch_id END
        WHERE id = 1
        RETURNING current_revision, sequencer_epoch
        """;

    /// <summary>
    /// One purge batch (see <see cref="PurgeAsync"/>), a write under the epoch fence (<see cref="Fenced"/>): $2 where
    /// it starts looking, $3 the compaction revision, $4 the most rows it deletes.
    /// </summary>
    internal const string PurgeSql =
        """
        WITH c AS (
            SELECT n.revision, n.sub, n.key, n.tombstone, n.prev_revision FROM kv_log AS n
            WHERE n.revision >= $2 AND n.revision < $3 AND EXISTS (SELECT 1 FROM fence)
            AND (n.tombstone OR EXISTS (SELECT 1 FROM kv_log AS p WHERE p.revision = n.prev_revision AND p.key = n.key OFFSET 0))
            ORDER BY n.revision, n.sub
            LIMIT $4),
        d AS (
            SELECT x.revision, x.sub FROM (
                SELECT p.revision, p.sub, c.revision AS by_revision, c.sub AS by_sub, 0 AS step
                FROM c CROSS JOIN LATERAL (SELECT p.revision, p.sub FROM kv_log AS p WHERE p.revision = c.prev_revision AND p.key = c.key OFFSET 0) AS p
                UNION ALL
                SELECT c.revision, c.sub, c.revision, c.sub, 1 FROM c WHERE c.tombstone) AS x
            ORDER BY x.by_revision, x.by_sub, x.step
            LIMIT $4)
        DELETE FROM kv_log AS k USING d
        WHERE k.revision = d.revision AND k.sub = d.sub
        RETURNING k.revision
        """;

    /// <summary>How long the resolving update waits for the row lock before the old session is ended.</summary>
    private const string ResolveLockTimeout = "2s";

    /// <summary>A batch of no rows, whose append command has the parameter types of every append.</summary>
    private static readonly CommitBatch NoRows = new(0, 0, 0, 0, []);

    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _appendGate = new(1, 1);
    private readonly SemaphoreSlim _purgeGate = new(1, 1);

    /// <summary>Where the next purge starts looking, valid for <see cref="_purgeCompactRevision"/>.</summary>
    private long _purgeFrom;

    private long _purgeCompactRevision;

    /// <summary>The time lease duration the current epoch was taken with, by which every append renews it.</summary>
    private TimeSpan _leaseDuration;

    /// <summary>
    /// Takes the next sequencer epoch; batch ids start over with it. The update waits for every fenced write of an
    /// older epoch under way (they hold the metadata row's lock), and fences every later one, renewals of the older
    /// epoch's time lease included. Where that lease has expired (by the server's clock) the same statement starts
    /// the new one; otherwise this waits until it has and then starts it.
    /// </summary>
    public async Task<StoreMetadata> TakeEpochAsync(TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        _leaseDuration = leaseDuration;
        StoreMetadata metadata;
        TimeSpan wait;
        await using (var command = dataSource.CreateCommand(
            """
            WITH old AS (SELECT lease_expiry FROM meta WHERE id = 1 FOR UPDATE)
            UPDATE meta SET sequencer_epoch = sequencer_epoch + 1, last_batch_id = 0,
                lease_expiry = CASE WHEN old.lease_expiry <= now() THEN now() + $1 ELSE old.lease_expiry END
            FROM old WHERE meta.id = 1
            RETURNING current_revision, compact_revision, sequencer_epoch,
                CASE WHEN old.lease_expiry <= now() THEN interval '0' ELSE old.lease_expiry - now() END
            """))
        {
            command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = leaseDuration });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                throw new InvalidOperationException("The metadata row is missing.");
            }
            metadata = new StoreMetadata(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
            wait = reader.GetFieldValue<TimeSpan>(3);
        }
        while (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken);
            wait = await StartLeaseAsync(metadata.Epoch, leaseDuration, cancellationToken);
        }
        return metadata;
    }

    /// <summary>
    /// Starts the lease of <paramref name="epoch"/> if its predecessor's has expired by the server's clock; returns
    /// how long that lease still runs otherwise (zero once started).
    /// </summary>
    private async Task<TimeSpan> StartLeaseAsync(long epoch, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            WITH old AS (SELECT sequencer_epoch, lease_expiry FROM meta WHERE id = 1 FOR UPDATE),
            started AS (
                UPDATE meta SET lease_expiry = now() + $2 FROM old
                WHERE meta.id = 1 AND old.sequencer_epoch = $1 AND old.lease_expiry <= now()
                RETURNING 1)
            SELECT old.sequencer_epoch, CASE WHEN old.lease_expiry <= now() THEN interval '0' ELSE old.lease_expiry - now() END FROM old
            """);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = epoch });
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = leaseDuration });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return reader.GetInt64(0) == epoch
            ? reader.GetFieldValue<TimeSpan>(1)
            : throw StoreFencedException.Refused("Starting the sequencer lease", epoch, reader.GetInt64(0));
    }

    /// <summary>Renews the time lease of <paramref name="epoch"/> to now + <paramref name="leaseDuration"/>, fenced by it.</summary>
    public Task RenewLeaseAsync(long epoch, TimeSpan leaseDuration, CancellationToken cancellationToken) =>
        SetLeaseAsync(epoch, "now() + $2", "Renewing the sequencer lease", cancellationToken, new NpgsqlParameter<TimeSpan> { TypedValue = leaseDuration });

    /// <summary>Ends the time lease of <paramref name="epoch"/> at once, fenced by it.</summary>
    public Task ReleaseLeaseAsync(long epoch, CancellationToken cancellationToken) =>
        SetLeaseAsync(epoch, "'-infinity'", "Releasing the sequencer lease", cancellationToken);

    private async Task SetLeaseAsync(long epoch, string expiry, string what, CancellationToken cancellationToken, params NpgsqlParameter[] parameters)
    {
        await using var command = dataSource.CreateCommand($"UPDATE meta SET lease_expiry = {expiry} WHERE id = 1 AND sequencer_epoch = $1");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = epoch });
        command.Parameters.AddRange(parameters);
        if (await command.ExecuteNonQueryAsync(cancellationToken) == 0)
        {
            throw await RefusedAsync(what, epoch, cancellationToken);
        }
    }

    /// <summary>Prepares the append on a new connection of the pool: the pool's physical connection initializer.</summary>
    public static void PrepareAppend(NpgsqlConnection connection)
    {
        using var command = AppendCommand(connection, NoRows, TimeSpan.Zero);
        command.Prepare();
    }

    /// <inheritdoc cref="PrepareAppend"/>
    public static async Task PrepareAppendAsync(NpgsqlConnection connection)
    {
        await using var command = AppendCommand(connection, NoRows, TimeSpan.Zero);
        await command.PrepareAsync();
    }

    /// <summary>
    /// Appends the batch in one round trip, as the statement its connection prepared when it was opened (see
    /// <see cref="PrepareAppend"/>). A failure before the statement was sent, or an error the server answered it
    /// with, means nothing was committed: <see cref="StoreUnavailableException"/>. A lost connection or a timeout
    /// after it was sent leaves the outcome unknown, and <see cref="ResolveAsync"/> finds it out before this returns.
    /// </summary>
    public async Task AppendAsync(CommitBatch batch, CancellationToken cancellationToken)
    {
        await _appendGate.WaitAsync(cancellationToken);
        try
        {
            NpgsqlConnection connection;
            try
            {
                connection = await dataSource.OpenConnectionAsync(cancellationToken);
            }
            catch (Exception failure)
            {
                throw NotCommitted(batch, failure);
            }
            var pid = connection.ProcessID;
            var inserted = 0;
            Exception? unknown = null;
            await using (connection)
            {
                await using var command = AppendCommand(connection, batch, _leaseDuration);
                try
                {
                    // Finds the connection's prepared statement, without a round trip.
                    await command.PrepareAsync(cancellationToken);
                }
                catch (Exception failure)
                {
                    throw NotCommitted(batch, failure);
                }
                try
                {
                    inserted = await command.ExecuteNonQueryAsync(CancellationToken.None);
                }
                catch (Exception failure) when (PostgresFailures.IsStatementError(failure))
                {
                    throw NotCommitted(batch, failure);
                }
                catch (Exception failure)
                {
                    unknown = failure;
                }
            }
            if (unknown is not null)
            {
                LogOutcomeUnknown(unknown, batch.FirstRevision, batch.LastRevision, pid);
                dataSource.Clear();
                await ResolveAsync(batch, pid);
            }
            else if (inserted == 0)
            {
                throw await FencedAsync(batch);
            }
        }
        finally
        {
            _appendGate.Release();
        }
    }

    /// <summary>
    /// Sets the compaction revision under the epoch fence, in one statement that locks the metadata row first and
    /// so also serializes with an epoch being taken.
    /// </summary>
    public async Task<KvStatus> SetCompactRevisionAsync(long epoch, long revision, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            WITH old AS (SELECT current_revision, compact_revision FROM meta WHERE id = 1 AND sequencer_epoch = $2 FOR UPDATE),
            updated AS (
                UPDATE meta SET compact_revision = $1 FROM old
                WHERE meta.id = 1 AND $1 > old.compact_revision AND $1 <= old.current_revision
                RETURNING 1)
            SELECT old.current_revision, old.compact_revision FROM old
            """);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = revision });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = epoch });
        long current;
        long compact;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                throw await RefusedAsync($"Setting the compaction revision {revision}", epoch, cancellationToken);
            }
            (current, compact) = (reader.GetInt64(0), reader.GetInt64(1));
        }
        return revision <= compact ? KvStatus.Compacted : revision > current ? KvStatus.FutureRevision : KvStatus.Ok;
    }

    /// <summary>
    /// Deletes the oldest purgeable rows, found from the rows that make them so: every row below the compaction
    /// revision makes the version it replaced purgeable (its prev_revision, looked up by the primary key), and a
    /// tombstone below it is purgeable itself, after that version. The rows with work left are taken in (revision,
    /// sub) order and their removals, older first, cut to <paramref name="maxRows"/>, so a version is always deleted
    /// before anything newer of its key that hides it, and a batch that stops inside a tombstone's pair has deleted
    /// the older row of the two. No row below the last one deleted has work left for this compaction revision, so
    /// each batch starts there.
    /// </summary>
    public async Task<int> PurgeAsync(long epoch, int maxRows, CancellationToken cancellationToken)
    {
        await _purgeGate.WaitAsync(cancellationToken);
        try
        {
            long compact;
            await using (var read = dataSource.CreateCommand("SELECT compact_revision, sequencer_epoch FROM meta WHERE id = 1"))
            {
                await using var reader = await read.ExecuteReaderAsync(cancellationToken);
                await reader.ReadAsync(cancellationToken);
                compact = reader.GetInt64(0);
                if (reader.GetInt64(1) != epoch)
                {
                    throw StoreFencedException.Refused("Purging", epoch, reader.GetInt64(1));
                }
            }
            if (compact != _purgeCompactRevision)
            {
                _purgeCompactRevision = compact;
                _purgeFrom = 0;
            }
            if (_purgeFrom >= compact)
            {
                return 0;
            }
            var (removed, lastRevision) = await FencedWriteAsync(
                epoch,
                "Purging",
                PurgeSql,
                cancellationToken,
                new NpgsqlParameter<long> { TypedValue = _purgeFrom },
                new NpgsqlParameter<long> { TypedValue = compact },
                new NpgsqlParameter<int> { TypedValue = maxRows });
            _purgeFrom = removed == maxRows ? lastRevision : compact;
            return (int)removed;
        }
        finally
        {
            _purgeGate.Release();
        }
    }

    public async Task<long> ClaimRangeAsync(long epoch, string rangeId, CancellationToken cancellationToken) =>
        (await FencedWriteAsync(
            epoch,
            $"The claim of range {rangeId}",
            """
            INSERT INTO range_owner (range_id, epoch) SELECT $2, 1 FROM fence
            ON CONFLICT (range_id) DO UPDATE SET epoch = range_owner.epoch + 1
            RETURNING epoch
            """,
            cancellationToken,
            new NpgsqlParameter<string> { TypedValue = rangeId })).Last;

    /// <summary>Inserts the lease unless its id is taken; true when it was inserted.</summary>
    public async Task<bool> GrantLeaseAsync(long epoch, StoredLease lease, CancellationToken cancellationToken) =>
        (await FencedWriteAsync(
            epoch,
            $"The grant of lease {lease.Id}",
            "INSERT INTO leases (id, ttl, remaining_ttl) SELECT $2, $3, $4 FROM fence ON CONFLICT (id) DO NOTHING RETURNING id",
            cancellationToken,
            new NpgsqlParameter<long> { TypedValue = lease.Id },
            new NpgsqlParameter<long> { TypedValue = lease.Ttl },
            new NpgsqlParameter<long> { TypedValue = lease.RemainingTtl })).Rows == 1;

    /// <summary>Deletes the lease; true when it was recorded.</summary>
    public async Task<bool> RevokeLeaseAsync(long epoch, long id, CancellationToken cancellationToken) =>
        (await FencedWriteAsync(
            epoch,
            $"The revoke of lease {id}",
            "DELETE FROM leases WHERE id = $2 AND EXISTS (SELECT 1 FROM fence) RETURNING id",
            cancellationToken,
            new NpgsqlParameter<long> { TypedValue = id })).Rows == 1;

    /// <summary>
    /// Runs <paramref name="write"/>, a data-modifying statement that returns one bigint per row written, under the
    /// epoch fence, in one statement: the CTE <c>fence</c> has a row only where the stored epoch is
    /// <paramref name="epoch"/> ($1), and the write must write nothing without it. The fence locks the metadata
    /// row FOR SHARE, which conflicts with the update that takes a new epoch: if that update is under way the fence
    /// waits for it and then checks the epoch it committed, and otherwise the update waits for this write to commit.
    /// Returns the number of rows written and the largest value returned (0 for none).
    /// </summary>
    private async Task<(long Rows, long Last)> FencedWriteAsync(
        long epoch, string what, string write, CancellationToken cancellationToken, params NpgsqlParameter[] parameters)
    {
        await using var command = dataSource.CreateCommand(Fenced(write));
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = epoch });
        command.Parameters.AddRange(parameters);
        bool current;
        long rows;
        long last;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            (current, rows, last) = (reader.GetBoolean(0), reader.GetInt64(1), reader.GetInt64(2));
        }
        return current ? (rows, last) : throw await RefusedAsync(what, epoch, cancellationToken);
    }

    /// <summary>
    /// <paramref name="write"/> under the epoch fence ($1), as one statement that returns whether the fence held, the
    /// rows written and the largest value returned (see <see cref="FencedWriteAsync"/>).
    /// </summary>
    internal static string Fenced(string write) =>
        $"""
        WITH fence AS (SELECT 1 FROM meta WHERE id = 1 AND sequencer_epoch = $1 FOR SHARE),
        written (value) AS (
        {write})
        SELECT EXISTS (SELECT 1 FROM fence), count(*), coalesce(max(value), 0) FROM written
        """;

    /// <summary>The refusal of <paramref name="what"/> under <paramref name="epoch"/>, naming the stored epoch.</summary>
    private async Task<StoreFencedException> RefusedAsync(string what, long epoch, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT sequencer_epoch FROM meta WHERE id = 1");
        return StoreFencedException.Refused(what, epoch, (long)(await command.ExecuteScalarAsync(cancellationToken))!);
    }

    private static NpgsqlCommand AppendCommand(NpgsqlConnection connection, CommitBatch batch, TimeSpan leaseDuration)
    {
        var rows = batch.Rows;
        var count = rows.Count;
        var revisions = new long[count];
        var subs = new int[count];
        var keys = new byte[count][];
        var creates = new long[count];
        var versions = new long[count];
        var leases = new long[count];
        var values = new byte[count][];
        var tombstones = new bool[count];
        var prevs = new long[count];
        var rangeIds = new string[count];
        var rangeEpochs = new long[count];
        for (var i = 0; i < count; i++)
        {
            var row = rows[i];
            revisions[i] = row.Revision;
            subs[i] = row.Sub;
            keys[i] = row.Key;
            creates[i] = row.CreateRevision;
            versions[i] = row.Version;
            leases[i] = row.Lease;
            values[i] = row.Value;
            tombstones[i] = row.Tombstone;
            prevs[i] = row.PrevRevision;
            rangeIds[i] = row.RangeId;
            rangeEpochs[i] = row.RangeEpoch;
        }
        return new NpgsqlCommand(AppendSql, connection)
        {
            Parameters =
            {
                new NpgsqlParameter<long> { TypedValue = batch.LastRevision },
                new NpgsqlParameter<long> { TypedValue = batch.BatchId },
                new NpgsqlParameter<long> { TypedValue = batch.Epoch },
                new NpgsqlParameter<long> { TypedValue = batch.FirstRevision - 1 },
                new NpgsqlParameter<long[]> { TypedValue = revisions },
                new NpgsqlParameter<int[]> { TypedValue = subs },
                new NpgsqlParameter<byte[][]> { TypedValue = keys },
                new NpgsqlParameter<long[]> { TypedValue = creates },
                new NpgsqlParameter<long[]> { TypedValue = versions },
                new NpgsqlParameter<long[]> { TypedValue = leases },
                new NpgsqlParameter<byte[][]> { TypedValue = values },
                new NpgsqlParameter<bool[]> { TypedValue = tombstones },
                new NpgsqlParameter<long[]> { TypedValue = prevs },
                new NpgsqlParameter<string[]> { TypedValue = rangeIds },
                new NpgsqlParameter<long[]> { TypedValue = rangeEpochs },
                new NpgsqlParameter<TimeSpan> { TypedValue = leaseDuration },
            },
        };
    }

    /// <summary>
    /// Finds out whether the batch committed, on new connections, retrying with backoff while PostgreSQL cannot
    /// answer: returns if it did; throws <see cref="StoreUnavailableException"/> if it did not, or
    /// <see cref="StoreFencedException"/> if it did not and a newer epoch has been taken meanwhile.
    /// </summary>
    private async Task ResolveAsync(CommitBatch batch, int pid)
    {
        var delay = FirstRetryDelay;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                if (await TryResolveAsync(batch, pid) is { } outcome)
                {
                    LogResolved(batch.FirstRevision, batch.LastRevision, outcome.Committed);
                    if (outcome.Committed)
                    {
                        return;
                    }
                    throw outcome.Epoch == batch.Epoch ? NotCommitted(batch, null) : await FencedAsync(batch);
                }
            }
            catch (Exception failure) when (PostgresFailures.IsTransient(failure))
            {
                LogResolveAttemptFailed(failure, batch.FirstRevision, batch.LastRevision, attempt, delay);
                dataSource.Clear();
                await Task.Delay(delay);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
            }
        }
    }

    /// <summary>
    /// One attempt: the resolving update, then the comparison of the row with the batch, with the epoch found;
    /// null when the update timed out on the row lock, after ending the session <paramref name="pid"/> if it still
    /// holds it.
    /// </summary>
    private async Task<(bool Committed, long Epoch)?> TryResolveAsync(CommitBatch batch, int pid)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        long current;
        long epoch;
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await using (var timeout = new NpgsqlCommand($"SET LOCAL lock_timeout = '{ResolveLockTimeout}'", connection, transaction))
            {
                await timeout.ExecuteNonQueryAsync();
            }
            await using var resolve = new NpgsqlCommand(ResolveSql, connection, transaction)
            {
                Parameters =
                {
                    new NpgsqlParameter<long> { TypedValue = batch.Epoch },
                    new NpgsqlParameter<long> { TypedValue = batch.FirstRevision - 1 },
                    new NpgsqlParameter<long> { TypedValue = batch.BatchId },
                },
            };
            try
            {
                await using var reader = await resolve.ExecuteReaderAsync();
                await reader.ReadAsync();
                (current, epoch) = (reader.GetInt64(0), reader.GetInt64(1));
            }
            catch (PostgresException failure) when (failure.SqlState == PostgresErrorCodes.LockNotAvailable)
            {
                await transaction.RollbackAsync();
                await EndSessionHoldingMetaAsync(connection, pid);
                return null;
            }
            await transaction.CommitAsync();
        }
        if (epoch != batch.Epoch)
        {
            return (current >= batch.LastRevision && await HoldsLastRowAsync(connection, batch), epoch);
        }
        if (current != batch.LastRevision && current != batch.FirstRevision - 1)
        {
            throw new InvalidOperationException(
                $"The store is at revision {current} under epoch {epoch}, neither before nor after the batch of revisions {batch.FirstRevision}..{batch.LastRevision}.");
        }
        return (current == batch.LastRevision, epoch);
    }

    /// <summary>Whether the log's row at the batch's last (revision, sub) is the batch's own.</summary>
    private static async Task<bool> HoldsLastRowAsync(NpgsqlConnection connection, CommitBatch batch)
    {
        var last = batch.Rows[^1];
        await using var command = new NpgsqlCommand(
            """
            SELECT EXISTS (SELECT 1 FROM kv_log
                WHERE revision = $1 AND sub = $2 AND key = $3 AND value = $4 AND range_id = $5 AND range_epoch = $6 AND prev_revision = $7)
            """,
            connection)
        {
            Parameters =
            {
                new NpgsqlParameter<long> { TypedValue = last.Revision },
                new NpgsqlParameter<int> { TypedValue = last.Sub },
                new NpgsqlParameter<byte[]> { TypedValue = last.Key },
                new NpgsqlParameter<byte[]> { TypedValue = last.Value },
                new NpgsqlParameter<string> { TypedValue = last.RangeId },
                new NpgsqlParameter<long> { TypedValue = last.RangeEpoch },
                new NpgsqlParameter<long> { TypedValue = last.PrevRevision },
            },
        };
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// Ends the session <paramref name="pid"/> if it holds a lock on the metadata table (so it is still the old
    /// append's). The filter runs in a subquery of its own, so that the function never sees another session.
    /// </summary>
    private async Task EndSessionHoldingMetaAsync(NpgsqlConnection connection, int pid)
    {
        await using var command = new NpgsqlCommand(
            """
            SELECT pg_terminate_backend($1)
            FROM (SELECT FROM pg_locks WHERE pid = $1 AND relation = 'meta'::regclass AND granted LIMIT 1) AS holder
            """,
            connection)
        {
            Parameters = { new NpgsqlParameter<int> { TypedValue = pid } },
        };
        if (await command.ExecuteScalarAsync() is true)
        {
            LogEndedSession(pid);
        }
    }

    private async Task<StoreFencedException> FencedAsync(CommitBatch batch)
    {
        await using var command = dataSource.CreateCommand("SELECT current_revision, sequencer_epoch, last_batch_id FROM meta WHERE id = 1");
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new StoreFencedException(
            $"The append of revisions {batch.FirstRevision}..{batch.LastRevision} (batch {batch.BatchId}) under epoch {batch.Epoch} was refused: " +
            $"the store is at revision {reader.GetInt64(0)} under epoch {reader.GetInt64(1)} after batch {reader.GetInt64(2)}.");
    }

    private static StoreUnavailableException NotCommitted(CommitBatch batch, Exception? failure) =>
        new($"PostgreSQL did not commit the append of revisions {batch.FirstRevision}..{batch.LastRevision}", failure);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "The outcome of the append of revisions {First}..{Last} (session {Pid}) is unknown: the connection to PostgreSQL was lost during the commit. Resolving it from the database before anything else is appended; nothing to do unless PostgreSQL stays unreachable")]
    private partial void LogOutcomeUnknown(Exception exception, long first, long last, int pid);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Resolving the append of revisions {First}..{Last} failed (attempt {Attempt}); retrying in {Delay}. Writes wait meanwhile: check that PostgreSQL is up and reachable from this silo (address, credentials, max_connections)")]
    private partial void LogResolveAttemptFailed(Exception exception, long first, long last, int attempt, TimeSpan delay);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "The append of revisions {First}..{Last} of unknown outcome was resolved: committed {Committed}")]
    private partial void LogResolved(long first, long last, bool committed);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Ended PostgreSQL session {Pid}, which still held the metadata row of an append of unknown outcome")]
    private partial void LogEndedSession(int pid);
}

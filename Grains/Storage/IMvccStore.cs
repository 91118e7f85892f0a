using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.Grains.Storage;

/// <summary>
/// The one storage interface: an append-only log of whole revisions plus a metadata row. Nothing above it
/// knows which database is in use.
/// <para>
/// Revision rules (etcd's): an empty store is at revision 1 and the first write takes revision 2. Every
/// committed write request takes exactly one revision; the rows of a revision are numbered by
/// <see cref="StoredRow.Sub"/> in the order the request wrote them. A key's generation starts with a put whose
/// <see cref="StoredRow.CreateRevision"/> equals its revision and <see cref="StoredRow.Version"/> 1; every later
/// put keeps the create revision and adds one to the version; a tombstone ends the generation. Worked example:
/// put a (rev 2: create 2, version 1), put a (rev 3: create 2, version 2), delete a (rev 4: tombstone),
/// put a (rev 5: create 5, version 1). Reading a at revision 3 gives version 2; at 4 nothing; at 5 version 1.
/// </para>
/// <para>
/// Compaction at R keeps, for every key, the newest version at or below R unless it is a tombstone, and every
/// version above R. Reads below R answer <see cref="KvStatus.Compacted"/>; a read at exactly R is allowed.
/// Purging also keeps what a watch from R needs: every row of revision R (tombstones too) and the version each
/// of them replaced. It removes exactly the rows below R that are tombstones or whose key has a newer row below
/// R, oldest first, so that no row is removed before an older row of the same key.
/// </para>
/// <para>
/// Byte arrays passed in or returned are never copied or changed; callers treat them as immutable.
/// </para>
/// <para>
/// Fencing: every write of the sequencer names its epoch (the one <see cref="OpenAsync"/> returned to it): the
/// appended batch's <see cref="CommitBatch.Epoch"/>, and the <c>epoch</c> parameter of the compaction, purge,
/// range-claim and lease writes. Each of them checks, in the same transaction as its write, that the stored epoch
/// still equals it; otherwise it writes nothing and throws <see cref="StoreFencedException"/>. The check
/// serializes with <see cref="OpenAsync"/> taking a newer epoch: a write either commits before the newer epoch is
/// taken or is fenced by it, so nothing a deposed activation does reaches the store after its successor opened.
/// </para>
/// </summary>
public interface IMvccStore : IAsyncDisposable
{
    /// <summary>
    /// Creates or migrates the schema, takes the sequencer epoch (the stored epoch plus one, committed before
    /// returning) and reads the metadata. Called before anything else, and again by every new sequencer
    /// activation: each call takes a new epoch, which fences every write under the older ones.
    /// <para>
    /// The sequencer's time lease: taking the epoch also ends the older epoch's renewals, and this then waits
    /// until the older epoch's lease has expired by the store's clock (at once if it was released or has lapsed)
    /// and starts the new epoch's lease, ending <paramref name="leaseDuration"/> after the store's clock at that
    /// moment, which is after the call was sent. So a caller that measured its own monotonic clock before sending
    /// holds the lease until that reading plus the duration, less an allowance for clock-rate drift, and its
    /// successor cannot return from this call before then. Every append renews the lease by the same duration
    /// (measured the same way, from before the append was sent), as does <see cref="RenewLeaseAsync"/>.
    /// PostgreSQL keeps the lease in the metadata row on the server's clock. The in-memory and SQLite stores are
    /// opened by one process only (SQLite is the single-node store of its data directory), so they keep it in
    /// that process on its monotonic clock: between activations in the process the rule is the same, and a
    /// restart after a crash, the only way a second process can open the file, starts without a lease and does
    /// not wait.
    /// </para>
    /// </summary>
    Task<StoreMetadata> OpenAsync(TimeSpan leaseDuration, CancellationToken cancellationToken);

    /// <summary>
    /// Renews the sequencer's time lease (see <see cref="OpenAsync"/>) to end <paramref name="leaseDuration"/> after
    /// the store's clock now. Fenced by <paramref name="epoch"/>: the lease of a deposed activation is never extended.
    /// </summary>
    Task RenewLeaseAsync(long epoch, TimeSpan leaseDuration, CancellationToken cancellationToken);

    /// <summary>
    /// Ends the sequencer's time lease at once, so that a successor need not wait for it (a graceful
    /// deactivation). Fenced by <paramref name="epoch"/>.
    /// </summary>
    Task ReleaseLeaseAsync(long epoch, CancellationToken cancellationToken);

    /// <summary>
    /// Appends the revisions <see cref="CommitBatch.FirstRevision"/>..<see cref="CommitBatch.LastRevision"/> in one
    /// durable transaction. The transaction first moves the current revision from first − 1 to last only where
    /// the stored epoch equals <see cref="CommitBatch.Epoch"/>; if that matches no row nothing is written and
    /// <see cref="StoreFencedException"/> is thrown. Returns once the batch is durable. A batch whose rows are not
    /// exactly the revisions first..last, each numbered by sub from 0, or whose row names a replaced revision that
    /// does not fit it (see <see cref="StoredRow.PrevRevision"/>), is refused with <see cref="ArgumentException"/>
    /// before anything is written. A revision writes each key at most once.
    /// <para>
    /// Failure model, the same for every backend: this returns only if the batch committed. It throws
    /// <see cref="KubeBrain.Grains.Interfaces.StoreUnavailableException"/> only when the batch is definitely not
    /// committed (the database could not be reached, or failed the transaction before it committed), and
    /// <see cref="StoreFencedException"/> when it was fenced, which also writes nothing. When the outcome is unknown
    /// (the connection was lost or timed out while the commit was in flight) the store resolves it before
    /// returning, on a new connection: a write to the metadata row, which waits until the in-doubt transaction
    /// has ended and keeps it from committing later, then a comparison of the row with the batch. While the
    /// database cannot answer it retries with backoff, however long that takes; nothing else is appended in
    /// between, because appends run one at a time (the sequencer calls this one flush at a time, and the store
    /// serializes its appends as well). So a caller never has to guess: every returned batch is committed and
    /// every failed one is not.
    /// </para>
    /// </summary>
    Task AppendAsync(CommitBatch batch, CancellationToken cancellationToken);

    /// <summary>
    /// Reads the live keys of <paramref name="span"/> as of <paramref name="revision"/> in ascending key order,
    /// in one snapshot that also reads the compaction and current revisions: below the compaction revision the
    /// answer is <see cref="KvStatus.Compacted"/>, above the current revision <see cref="KvStatus.FutureRevision"/>.
    /// <paramref name="revision"/> 0 or less means the current revision. <paramref name="limit"/> 0 or less means
    /// no limit; the count is exact and independent of the limit, and <see cref="RangeResult.More"/> says whether
    /// the limit cut keys off. With <paramref name="countOnly"/> only the count is returned (no key-values, More false).
    /// </summary>
    Task<RangeResult> RangeAsync(KeySpan span, long revision, long limit, bool countOnly, CancellationToken cancellationToken);

    /// <summary>
    /// The values of <paramref name="versions"/>, each named by its key and the revision that wrote it, in the order
    /// given: null for a version the store does not hold (purged below the compaction revision, or never written).
    /// A row never changes once appended, so this reads no snapshot and no metadata.
    /// </summary>
    Task<IReadOnlyList<byte[]?>> ReadValuesAsync(IReadOnlyList<KeyRevision> versions, CancellationToken cancellationToken);

    /// <summary>
    /// Reads whole revisions from <paramref name="fromRevision"/> up, each row with the version it replaced, at most <paramref name="maxRevisions"/> of
    /// them and none above the current revision, each with its rows in sub order (no rows when
    /// <paramref name="fromRevision"/> is above the current revision). Answers <see cref="KvStatus.Compacted"/> when
    /// <paramref name="fromRevision"/> is below the compaction revision (read in the same snapshot).
    /// <paramref name="maxRevisions"/> must be positive.
    /// </summary>
    Task<RevisionsResult> ReadRevisionsAsync(long fromRevision, int maxRevisions, CancellationToken cancellationToken);

    /// <summary>
    /// Commits <paramref name="revision"/> as the compaction revision: <see cref="KvStatus.Compacted"/> if it is
    /// not above the current compaction revision, <see cref="KvStatus.FutureRevision"/> if it is above the current
    /// revision. Removes nothing; see <see cref="PurgeAsync"/>. Fenced by <paramref name="epoch"/> before anything
    /// else is checked.
    /// </summary>
    Task<KvStatus> SetCompactRevisionAsync(long epoch, long revision, CancellationToken cancellationToken);

    /// <summary>
    /// Removes at most <paramref name="maxRows"/> (positive) rows that no read or watch at or above the committed
    /// compaction revision can need (see the class summary), in one short transaction. Returns the number
    /// removed; 0 means nothing is left to remove. Fenced by <paramref name="epoch"/>.
    /// </summary>
    Task<int> PurgeAsync(long epoch, int maxRows, CancellationToken cancellationToken);

    /// <summary>
    /// Records a new epoch for the key range <paramref name="rangeId"/> (1 on its first claim) and returns it.
    /// Fenced by the sequencer's <paramref name="epoch"/>.
    /// </summary>
    Task<long> ClaimRangeAsync(long epoch, string rangeId, CancellationToken cancellationToken);

    /// <summary>The key ranges ever claimed with their latest epochs, in ascending ordinal id order.</summary>
    Task<IReadOnlyList<RangeOwner>> ListRangesAsync(CancellationToken cancellationToken);

    /// <summary>The physical size of the database in bytes.</summary>
    Task<long> SizeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Records a granted lease; it is durable when this returns. Returns false, and writes nothing, when a lease with
    /// the same id is recorded already. Fenced by <paramref name="epoch"/>.
    /// </summary>
    Task<bool> GrantLeaseAsync(long epoch, StoredLease lease, CancellationToken cancellationToken);

    /// <summary>
    /// Removes the lease <paramref name="id"/>; the removal is durable when this returns. Returns false when no such
    /// lease is recorded. The keys that carry the lease are not touched. Fenced by <paramref name="epoch"/>.
    /// </summary>
    Task<bool> RevokeLeaseAsync(long epoch, long id, CancellationToken cancellationToken);

    /// <summary>Every recorded lease, in ascending id order.</summary>
    Task<IReadOnlyList<StoredLease>> ListLeasesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The keys live at the current revision whose version there carries a lease, with that lease, in ascending key
    /// order. Whether the lease is still recorded does not matter.
    /// </summary>
    Task<IReadOnlyList<LeasedKey>> ListLeasedKeysAsync(CancellationToken cancellationToken);
}

/// <summary>The metadata row as <see cref="IMvccStore.OpenAsync"/> found it, with the new sequencer epoch.</summary>
public sealed record StoreMetadata(long CurrentRevision, long CompactRevision, long Epoch);

/// <summary>One version of a key, named by the revision that wrote it.</summary>
public readonly record struct KeyRevision(byte[] Key, long Revision);

/// <summary>One row of the log: one key's version (or tombstone) written at <see cref="Revision"/>.</summary>
/// <param name="Revision">The revision that wrote the row.</param>
/// <param name="Sub">The row's position inside its revision, from 0.</param>
/// <param name="Key">The key.</param>
/// <param name="CreateRevision">The revision that created the key's generation; 0 for a tombstone.</param>
/// <param name="Version">Puts since creation; 0 for a tombstone.</param>
/// <param name="Lease">The attached lease, 0 for none.</param>
/// <param name="Value">The value; empty for a tombstone.</param>
/// <param name="Tombstone">True when the row deletes the key.</param>
/// <param name="PrevRevision">
/// The revision of the version this row replaces, 0 if the key did not exist: above 0 for a tombstone, 0 for a put
/// exactly when its version is 1, always below <paramref name="Revision"/>. Stores find the replaced version through
/// it, for a watch's prev_kv and, in SQLite, for purging.
/// </param>
/// <param name="RangeId">The key range that validated the write.</param>
/// <param name="RangeEpoch">That range's epoch when it validated the write.</param>
public sealed record StoredRow(
    long Revision,
    int Sub,
    byte[] Key,
    long CreateRevision,
    long Version,
    long Lease,
    byte[] Value,
    bool Tombstone,
    long PrevRevision,
    string RangeId,
    long RangeEpoch);

/// <summary>
/// Whole revisions to append atomically. Every revision in [<see cref="FirstRevision"/>,
/// <see cref="LastRevision"/>] has at least one row; rows are ordered by (revision, sub). <see cref="BatchId"/> is
/// positive and grows from batch to batch within an epoch: the store records it with the batch, which is how an
/// append of unknown outcome is recognised, and a batch whose id is not above the recorded one cannot commit.
/// </summary>
public sealed record CommitBatch(long Epoch, long BatchId, long FirstRevision, long LastRevision, IReadOnlyList<StoredRow> Rows);

/// <summary>
/// Whole revisions read back from the log, ascending. <see cref="Prevs"/> runs parallel to <see cref="Rows"/>:
/// the version each row replaced (its <see cref="StoredRow.PrevRevision"/>), null when the key was absent — the
/// watch event's <c>prev_kv</c>. It is read even when that version is below the compaction revision.
/// </summary>
public sealed record RevisionsResult(KvStatus Status, long CompactRevision, IReadOnlyList<StoredRow> Rows, IReadOnlyList<KeyValue?> Prevs);

/// <summary>A granted lease as recorded: its id, granted TTL and the last checkpoint of its remaining TTL, in seconds.</summary>
public sealed record StoredLease(long Id, long Ttl, long RemainingTtl);

/// <summary>A key range and the epoch of its latest claim.</summary>
public sealed record RangeOwner(string RangeId, long Epoch);

/// <summary>A live key whose current version carries <see cref="Lease"/>.</summary>
public sealed record LeasedKey(long Lease, byte[] Key);

/// <summary>Thrown when a write was refused because another sequencer activation took a newer epoch; it wrote nothing.</summary>
public sealed class StoreFencedException(string message) : Exception(message)
{
    /// <summary>The refusal of <paramref name="write"/> under <paramref name="epoch"/> while the store is under <paramref name="storedEpoch"/>.</summary>
    internal static StoreFencedException Refused(string write, long epoch, long storedEpoch) =>
        new($"{write} under epoch {epoch} was refused: the store is under epoch {storedEpoch}.");
}

namespace KubeBrain.Grains.Interfaces.Model;

/// <summary>
/// One key written by a revision, as submitted to the sequencer. A create, previous or own revision that is not
/// known yet is named by <c>…Ref</c>: the index of the submitted revision (in the same submission) that wrote it.
/// For a tombstone, the create revision is that of the generation it ends (stored rows keep 0). The version it
/// replaces (the watch event's <c>prev_kv</c>) is <see cref="PrevRevision"/> with <see cref="PrevVersion"/>,
/// <see cref="PrevValue"/> and <see cref="PrevLease"/>; <see cref="PrevVersion"/> 0 means the key was absent.
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.KeyWrite")]
public sealed record KeyWrite(
    [property: Id(0)] byte[] Key,
    [property: Id(1)] byte[] Value,
    [property: Id(2)] long Lease,
    [property: Id(3)] long Version,
    [property: Id(4)] bool Tombstone,
    [property: Id(5)] long CreateRevision,
    [property: Id(6)] int CreateRef,
    [property: Id(7)] long PrevRevision,
    [property: Id(8)] int PrevRef,
    [property: Id(9)] string RangeId,
    [property: Id(10)] long PrevVersion,
    [property: Id(11)] byte[] PrevValue,
    [property: Id(12)] long PrevLease);

/// <summary>The writes of one revision to be: one write request.</summary>
[GenerateSerializer, Immutable, Alias("kb.RevisionWrites")]
public sealed record RevisionWrites([property: Id(0)] IReadOnlyList<KeyWrite> Writes);

/// <summary>
/// What one key range (or one multi-range coordinator) hands the sequencer at once: revisions in the order
/// they must commit. <see cref="DirectoryVersion"/> is checked for multi-range groups only (0 = unchecked).
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.Submission")]
public sealed record Submission(
    [property: Id(0)] string RangeId,
    [property: Id(1)] long RangeEpoch,
    [property: Id(2)] IReadOnlyList<RevisionWrites> Revisions,
    [property: Id(3)] long DirectoryVersion);

/// <summary>The fate of one submitted revision.</summary>
public enum SubmitStatus
{
    /// <summary>Committed at its revision.</summary>
    Committed = 0,

    /// <summary>Not committed: a put named a lease that does not exist.</summary>
    LeaseNotFound = 1,

    /// <summary>Not committed because an earlier revision of the submission was not; evaluate it again.</summary>
    Retry = 2,

    /// <summary>Not committed: a newer activation of the submitting range has claimed it.</summary>
    Deposed = 3,
}

/// <summary>
/// The answer to a <see cref="Submission"/>: per submitted revision its status; the committed ones took
/// consecutive revisions from <see cref="FirstRevision"/> in submission order.
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.SubmitResult")]
public sealed record SubmitResult(
    [property: Id(0)] long FirstRevision,
    [property: Id(1)] IReadOnlyList<SubmitStatus> Statuses,
    [property: Id(2)] long CompactRevision);

/// <summary>
/// A read barrier: every write acknowledged before the barrier was asked for has a revision at or below
/// <see cref="Revision"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.ReadBarrier")]
public sealed record ReadBarrier(
    [property: Id(0)] long Revision,
    [property: Id(1)] long CompactRevision,
    [property: Id(2)] long DirectoryVersion);

/// <summary>
/// The key ranges that can hold keys. <see cref="Version"/> counts every claim ever made (the sum of the ranges'
/// epochs), so it grows when a range is added or re-activated, across sequencer activations too: a multi-range
/// group validated under one version is refused at any other, because a range it locked may have reloaded.
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.RangeDirectory")]
public sealed record RangeDirectory([property: Id(0)] long Version, [property: Id(1)] IReadOnlyList<string> RangeIds);

/// <summary>A key range's claim: its new epoch and the revision at which to load its keys.</summary>
[GenerateSerializer, Immutable, Alias("kb.RangeClaim")]
public sealed record RangeClaim(
    [property: Id(0)] long Epoch,
    [property: Id(1)] long Revision,
    [property: Id(2)] long CompactRevision);

/// <summary>The store's state for Maintenance.Status.</summary>
[GenerateSerializer, Immutable, Alias("kb.StoreStatus")]
public sealed record StoreStatus(
    [property: Id(0)] long Revision,
    [property: Id(1)] long CompactRevision,
    [property: Id(2)] long DbSize);

/// <summary>
/// The store's gauges for the metrics endpoint: the revisions, the database's size and the number of live keys
/// (null while the sequencer has not counted them yet, or could not).
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.StoreGauges")]
public sealed record StoreGauges(
    [property: Id(0)] long Revision,
    [property: Id(1)] long CompactRevision,
    [property: Id(2)] long DbSize,
    [property: Id(3)] long? Keys);

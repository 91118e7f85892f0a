namespace KubeBrain.Grains.Interfaces.Model;

/// <summary>What a <see cref="Compare"/> inspects.</summary>
public enum CompareTarget
{
    Version = 0,
    Create = 1,
    Mod = 2,
    Value = 3,
    Lease = 4,
}

/// <summary>How a <see cref="Compare"/> relates the key's field to the operand.</summary>
public enum CompareResult
{
    Equal = 0,
    Greater = 1,
    Less = 2,
    NotEqual = 3,
}

/// <summary>
/// A transaction guard over one key or over every key of <see cref="Span"/>. A missing key compares as a zero
/// key-value (version, create, mod and lease 0); a value compare against a missing key is false.
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.Compare")]
public sealed record Compare(
    [property: Id(0)] KeySpan Span,
    [property: Id(1)] CompareTarget Target,
    [property: Id(2)] CompareResult Result,
    [property: Id(3)] long Number,
    [property: Id(4)] byte[] Value);

/// <summary>One operation of a transaction branch.</summary>
[GenerateSerializer, Immutable, Alias("kb.TxnOp")]
public abstract record TxnOp;

/// <summary>A read inside a transaction.</summary>
[GenerateSerializer, Immutable, Alias("kb.RangeOp")]
public sealed record RangeOp([property: Id(0)] RangeQuery Query) : TxnOp;

/// <summary>
/// A put. <see cref="IgnoreValue"/> keeps the current value and <see cref="IgnoreLease"/> the current lease
/// (both need the key to exist); <see cref="PrevKv"/> asks for the replaced version.
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.PutOp")]
public sealed record PutOp(
    [property: Id(0)] byte[] Key,
    [property: Id(1)] byte[] Value,
    [property: Id(2)] long Lease,
    [property: Id(3)] bool PrevKv,
    [property: Id(4)] bool IgnoreValue,
    [property: Id(5)] bool IgnoreLease) : TxnOp;

/// <summary>A delete of every live key in <see cref="Span"/>.</summary>
[GenerateSerializer, Immutable, Alias("kb.DeleteOp")]
public sealed record DeleteOp([property: Id(0)] KeySpan Span, [property: Id(1)] bool PrevKv) : TxnOp
{
    /// <summary>
    /// When not 0, only the keys whose live version carries this lease are deleted. Internal: lease revoke and
    /// expiry set it; the etcd frontend never does.
    /// </summary>
    [Id(2)] public long OnlyLease { get; init; }
}

/// <summary>A nested transaction.</summary>
[GenerateSerializer, Immutable, Alias("kb.NestedTxnOp")]
public sealed record NestedTxnOp([property: Id(0)] TxnRequest Txn) : TxnOp;

/// <summary>
/// etcd's transaction: if every compare holds the success branch runs, otherwise the failure branch. Put and
/// DeleteRange travel as transactions with no compares and one operation.
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.TxnRequest")]
public sealed record TxnRequest(
    [property: Id(0)] IReadOnlyList<Compare> Compares,
    [property: Id(1)] IReadOnlyList<TxnOp> Success,
    [property: Id(2)] IReadOnlyList<TxnOp> Failure);

/// <summary>
/// The result of one operation; its type mirrors the operation's. <see cref="HeaderRevision"/> is the revision
/// etcd reports in the operation's own header: the store's revision as the operation saw it (the revision before
/// the transaction until its first write, the transaction's revision from then on), and 0 for a nested
/// transaction, whose header etcd leaves empty.
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.OpResult")]
public abstract record OpResult
{
    [Id(0)] public long HeaderRevision { get; init; }
}

[GenerateSerializer, Immutable, Alias("kb.RangeOpResult")]
public sealed record RangeOpResult([property: Id(0)] RangeResult Range) : OpResult;

[GenerateSerializer, Immutable, Alias("kb.PutOpResult")]
public sealed record PutOpResult([property: Id(0)] KeyValue? PrevKv) : OpResult;

[GenerateSerializer, Immutable, Alias("kb.DeleteOpResult")]
public sealed record DeleteOpResult([property: Id(0)] long Deleted, [property: Id(1)] IReadOnlyList<KeyValue> PrevKvs) : OpResult;

[GenerateSerializer, Immutable, Alias("kb.NestedTxnOpResult")]
public sealed record NestedTxnOpResult([property: Id(0)] TxnResult Txn) : OpResult;

/// <summary>
/// The outcome of a transaction. <see cref="Revision"/> is the store revision the answer reflects: the
/// transaction's own revision when it wrote, otherwise the revision it was evaluated at.
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.TxnResult")]
public sealed record TxnResult(
    [property: Id(0)] KvStatus Status,
    [property: Id(1)] bool Succeeded,
    [property: Id(2)] IReadOnlyList<OpResult> Responses,
    [property: Id(3)] long Revision)
{
    /// <summary>A result carrying only a failure status.</summary>
    public static TxnResult Failed(KvStatus status) => new(status, false, [], 0);
}

using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.Grains.Interfaces;

/// <summary>
/// Owns the keys of one key range (see <c>KeyRouter</c>): validates and serializes their writes, keeps their
/// latest state and recent history in memory and answers reads of them.
/// </summary>
[Alias("kb.IKeyRangeGrain")]
public interface IKeyRangeGrain : IGrainWithStringKey
{
    /// <summary>A transaction whose keys all belong to this range; answers once it is durable.</summary>
    [Alias("Txn")]
    Task<TxnResult> TxnAsync(TxnRequest txn);

    /// <summary>A transaction without writes, evaluated as of <paramref name="revision"/>.</summary>
    [Alias("ReadTxn")]
    Task<TxnResult> ReadTxnAsync(TxnRequest txn, long revision);

    /// <summary>This range's live keys in the query's span as of <paramref name="revision"/>.</summary>
    [Alias("Range")]
    Task<RangeResult> RangeAsync(RangeQuery query, long revision);

    /// <summary>
    /// Locks <paramref name="spans"/> for a multi-range write group and returns their latest committed live
    /// versions; writes to them wait until <see cref="ApplyGroupAsync"/> or <see cref="ReleaseAsync"/>.
    /// </summary>
    [Alias("Lock")]
    Task<IReadOnlyList<KeyValue>> LockAsync(Guid groupId, IReadOnlyList<KeySpan> spans);

    /// <summary>Applies a group's committed writes to this range and releases its lock.</summary>
    [Alias("ApplyGroup")]
    Task ApplyGroupAsync(Guid groupId, long revision, IReadOnlyList<KeyWrite> writes);

    /// <summary>Releases a group's lock without writing.</summary>
    [Alias("Release")]
    Task ReleaseAsync(Guid groupId);

    /// <summary>
    /// Releases a group's lock after its outcome became unknown: the range stops answering and its next
    /// activation reloads from the store.
    /// </summary>
    [Alias("Reset")]
    Task ResetAsync(Guid groupId);
}

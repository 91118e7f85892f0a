using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.Grains.Leases;

/// <summary>
/// The one transaction that deletes an ended lease's keys, each only while its live version still carries that lease,
/// so a key put again since, without the lease, stays; one revision however many key ranges they span, and none when
/// every key is already gone.
/// </summary>
internal static class LeaseKeyDeletion
{
    public static TxnRequest Of(long lease, IReadOnlyList<byte[]> keys) =>
        new([], [.. keys.Select(key => new DeleteOp(KeySpan.Single(key), PrevKv: false) { OnlyLease = lease })], []);
}

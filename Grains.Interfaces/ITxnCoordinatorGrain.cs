using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.Grains.Interfaces;

/// <summary>
/// Runs transactions whose keys may span several key ranges: locks the ranges in id order, evaluates, commits
/// the writes as one revision and applies them to every range.
/// </summary>
[Alias("kb.ITxnCoordinatorGrain")]
public interface ITxnCoordinatorGrain : IGrainWithIntegerKey
{
    /// <summary>A transaction over any keys; answers once it is durable.</summary>
    [Alias("Txn")]
    Task<TxnResult> TxnAsync(TxnRequest txn);

    /// <summary>A transaction without writes over any keys, evaluated as of <paramref name="revision"/>.</summary>
    [Alias("ReadTxn")]
    Task<TxnResult> ReadTxnAsync(TxnRequest txn, long revision);

    /// <summary>
    /// etcd's LeaseRevoke: the sequencer ends the lease, then every key whose live version carries it is deleted in
    /// one revision; answers after that, with that revision. The sequencer never waits for this deletion itself: it
    /// goes through the key ranges back to the sequencer, which would wait for its own call while it deactivates.
    /// </summary>
    [Alias("RevokeLease")]
    Task<LeaseRevokeResult> RevokeLeaseAsync(long id);
}

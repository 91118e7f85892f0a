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
}

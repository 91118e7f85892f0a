using Grpc.Core;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Migrate;

/// <summary>Writes batches of changes to the target, one txn each, with the source's leases mirrored first.</summary>
internal sealed class TargetWriter(Store target, LeaseMirror leases)
{
    /// <summary>
    /// Applies <paramref name="changes"/> (distinct keys, see <see cref="ChangeBatch"/>) in one txn and answers how
    /// many were puts whose lease had ended on the source, applied as deletes. A lease may end on the target
    /// between its grant and the txn ("requested lease not found"): then the batch's leases are looked up again.
    /// </summary>
    public async Task<int> WriteAsync(IReadOnlyList<Change> changes, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var txn = new Rpc.TxnRequest();
            var ended = 0;
            foreach (var change in changes)
            {
                if (change.Value is { } value && (change.Lease == 0 || await leases.IsLiveAsync(change.Lease, cancellationToken)))
                {
                    txn.Success.Add(new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = change.Key, Value = value, Lease = change.Lease } });
                    continue;
                }
                if (change.Value is not null)
                {
                    ended++;
                }
                txn.Success.Add(new Rpc.RequestOp { RequestDeleteRange = new Rpc.DeleteRangeRequest { Key = change.Key } });
            }
            try
            {
                await target.CallAsync("a txn", o => target.Kv.TxnAsync(txn, o), cancellationToken);
                return ended;
            }
            catch (StoreException e) when (e.Code == StatusCode.NotFound && attempt < 3)
            {
                leases.Forget(changes.Where(c => c.Lease != 0).Select(c => c.Lease));
            }
        }
    }
}

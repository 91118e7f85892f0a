using Grpc.Core;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Migrate;

/// <summary>
/// The source's leases on the target, under the same IDs. A lease is granted on the target the first time it is
/// needed, for the time it has left on the source; a lease the source no longer has is never granted, and the
/// puts naming it become deletes (the source deletes a lease's keys when it ends). Keep-alives the source gets
/// after the grant are not carried over.
/// </summary>
internal sealed class LeaseMirror(Store source, Store target)
{
    private readonly Dictionary<long, Task<bool>> _leases = [];
    private int _granted;

    /// <summary>How many leases were granted on the target.</summary>
    public int Granted => Volatile.Read(ref _granted);

    /// <summary>Whether lease <paramref name="id"/> is live on the source, granting it on the target the first time.</summary>
    public Task<bool> IsLiveAsync(long id, CancellationToken cancellationToken)
    {
        lock (_leases)
        {
            if (!_leases.TryGetValue(id, out var live))
            {
                live = MirrorAsync(id, cancellationToken);
                _leases[id] = live;
            }
            return live;
        }
    }

    /// <summary>Forgets what is known of <paramref name="ids"/>, after the target reported one of them missing.</summary>
    public void Forget(IEnumerable<long> ids)
    {
        lock (_leases)
        {
            foreach (var id in ids)
            {
                _leases.Remove(id);
            }
        }
    }

    private async Task<bool> MirrorAsync(long id, CancellationToken cancellationToken)
    {
        var left = await source.CallAsync("LeaseTimeToLive", o => source.Lease.LeaseTimeToLiveAsync(new Rpc.LeaseTimeToLiveRequest { ID = id }, o), cancellationToken);
        if (left.TTL <= 0)
        {
            return false;
        }
        try
        {
            await target.CallAsync("LeaseGrant", o => target.Lease.LeaseGrantAsync(new Rpc.LeaseGrantRequest { ID = id, TTL = left.TTL }, o), cancellationToken);
            Interlocked.Increment(ref _granted);
        }
        catch (StoreException e) when (e.Code == StatusCode.FailedPrecondition)
        {
            // "lease already exists": a grant retried after its answer was lost, or the lease is still there.
        }
        return true;
    }
}

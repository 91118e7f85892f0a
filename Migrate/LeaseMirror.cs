using Grpc.Core;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Migrate;

/// <summary>
/// The source's leases on the target, under the same IDs. A lease is granted on the target the first time it is
/// needed, for the time it has left on the source; a lease the source no longer has is never granted, and the
/// puts naming it become deletes (the source deletes a lease's keys when it ends). At the cut-over the leases
/// that ended on the source since are revoked on the target. Keep-alives the source gets after the grant are not
/// carried over.
/// </summary>
internal sealed class LeaseMirror(Store source, Store target)
{
    private readonly Dictionary<long, Task<bool>> _leases = [];
    private readonly HashSet<long> _granted = [];

    /// <summary>How many leases were granted on the target.</summary>
    public int Granted
    {
        get
        {
            lock (_granted)
            {
                return _granted.Count;
            }
        }
    }

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

    /// <summary>
    /// Revokes on the target the granted leases the source no longer has (revoked, or expired), so the target
    /// ends with the source's leases; answers how many. Their keys were deleted on the source when they ended.
    /// </summary>
    public async Task<int> RevokeEndedAsync(CancellationToken cancellationToken)
    {
        var listed = await source.CallAsync("LeaseLeases", o => source.Lease.LeaseLeasesAsync(new Rpc.LeaseLeasesRequest(), o), cancellationToken);
        var live = listed.Leases.Select(l => l.ID).ToHashSet();
        long[] ended;
        lock (_granted)
        {
            ended = [.. _granted.Where(id => !live.Contains(id))];
        }
        foreach (var id in ended)
        {
            try
            {
                await target.CallAsync("LeaseRevoke", o => target.Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id }, o), cancellationToken);
            }
            catch (StoreException e) when (e.Code == StatusCode.NotFound)
            {
                // It ran out on the target as well.
            }
        }
        return ended.Length;
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
            lock (_granted)
            {
                _granted.Add(id);
            }
        }
        catch (StoreException e) when (e.Code == StatusCode.FailedPrecondition)
        {
            // "lease already exists": a grant retried after its answer was lost, or the lease is still there.
        }
        return true;
    }
}

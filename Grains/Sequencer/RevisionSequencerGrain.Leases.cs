using System.Diagnostics;
using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Leases;
using KubeBrain.Grains.Storage;
using Microsoft.Extensions.Logging;

namespace KubeBrain.Grains.Sequencer;

/// <summary>
/// Leases. The sequencer owns the <see cref="Lessor"/>, so the check that a put names a live lease is made at flush
/// time, in commit order, and the attached keys are learned from the rows it commits. Grant and revoke are durable
/// before they answer. A revoke, and an expiry found by a timer that keeps the activation alive, first ends the
/// lease (puts naming it are refused from then on), waits for the flush under way (its puts were checked before)
/// and then deletes every key whose live version still carries the lease as ONE mutation group through the
/// coordinator: one revision, however many key ranges the keys span. At activation every recorded lease is
/// re-armed for its full TTL; keys carrying a lease that no longer exists (a revoke cut short by a crash) are
/// deleted by the first timer tick, as are the keys of any revoke whose deletion failed.
/// </summary>
internal sealed partial class RevisionSequencerGrain
{
    /// <summary>How often expiry is checked (etcd's lessor checks every 500 ms).</summary>
    private static readonly TimeSpan LeaseCheckInterval = TimeSpan.FromMilliseconds(500);

    private readonly Lessor _lessor = new();
    private readonly FailureStreak _leaseEndFailures = new();

    /// <summary>A monotonic clock reading.</summary>
    private static TimeSpan Now => Stopwatch.GetElapsedTime(0);

    public async Task<LeaseGrantResult> GrantLeaseAsync(long id, long ttl)
    {
        if (ttl > Lessor.MaxTtl)
        {
            return new LeaseGrantResult(LeaseOutcome.TtlTooLarge, id, 0, _current);
        }
        var granted = Lessor.GrantedTtl(ttl);
        if (id == 0)
        {
            id = _lessor.NewId();
        }
        if (_lessor.IsTaken(id) || !await StoreAsync(epoch => store.GrantLeaseAsync(epoch, new StoredLease(id, granted, granted), CancellationToken.None)))
        {
            return new LeaseGrantResult(LeaseOutcome.AlreadyExists, id, 0, _current);
        }
        _lessor.Grant(id, granted, Now);
        return new LeaseGrantResult(LeaseOutcome.Ok, id, granted, _current);
    }

    public async Task<LeaseRevokeResult> RevokeLeaseAsync(long id)
    {
        var revoked = _lessor.IsLive(id) && await EndLeaseAsync(id);
        return new LeaseRevokeResult(revoked ? LeaseOutcome.Ok : LeaseOutcome.NotFound, _current);
    }

    /// <summary>Renews only while this activation holds the time lease, so a deposed one cannot push an expiry out.</summary>
    public async Task<LeaseKeepAliveResults> KeepAliveLeasesAsync(IReadOnlyList<long> ids)
    {
        await EnsureLeaseAsync();
        var now = Now;
        return new LeaseKeepAliveResults([.. ids.Select(id => _lessor.Renew(id, now))], _current);
    }

    public Task<LeaseTimeToLiveResult> LeaseTimeToLiveAsync(long id, bool keys) =>
        Task.FromResult(_lessor.TimeToLive(id, Now) is var (remaining, granted)
            ? new LeaseTimeToLiveResult(remaining, granted, keys ? _lessor.KeysOf(id) : [], _current)
            : new LeaseTimeToLiveResult(-1, 0, [], _current));

    public Task<LeaseListResult> ListLeasesAsync() => Task.FromResult(new LeaseListResult(_lessor.LiveIds(), _current));

    /// <summary>Whether a put may name <paramref name="lease"/> (checked at flush for puts that name one).</summary>
    private bool LeaseExists(long lease) => _lessor.IsLive(lease);

    /// <summary>Loads the leases and the keys that carry them, and starts the expiry timer.</summary>
    private async Task LoadLeasesAsync(CancellationToken cancellationToken)
    {
        var leases = await store.ListLeasesAsync(cancellationToken);
        var keys = await store.ListLeasedKeysAsync(cancellationToken);
        _lessor.Load(leases, keys, Now);
        this.RegisterGrainTimer(ExpireLeasesAsync, new GrainTimerCreationOptions(LeaseCheckInterval, LeaseCheckInterval) { KeepAlive = true });
        LogLeasesLoaded(leases.Count, keys.Count, _lessor.Orphaned().Count);
    }

    /// <summary>Revokes the expired leases, then deletes the keys of leases that ended without their keys going.</summary>
    private async Task ExpireLeasesAsync()
    {
        foreach (var id in _lessor.Expired(Now))
        {
            try
            {
                if (await EndLeaseAsync(id))
                {
                    LogLeaseExpired(id);
                }
                LeaseEnded();
            }
            catch (Exception failure)
            {
                LeaseEndFailed(failure, id);
            }
        }
        foreach (var id in _lessor.Orphaned())
        {
            try
            {
                await DeleteLeasedKeysAsync(id);
                LeaseEnded();
            }
            catch (Exception failure)
            {
                LeaseEndFailed(failure, id);
            }
        }
    }

    private void LeaseEndFailed(Exception failure, long id)
    {
        if (_leaseEndFailures.Failed(out var unlogged))
        {
            LogLeaseEndFailed(failure, id, unlogged);
        }
    }

    private void LeaseEnded()
    {
        if (_leaseEndFailures.Succeeded(out var failures))
        {
            LogLeaseEndRecovered(failures);
        }
    }

    /// <summary>
    /// Revokes a live lease: removes it from the store, ends it, waits for the flush under way and deletes the keys
    /// that carry it. False when another revoke or expiry got there first.
    /// </summary>
    private async Task<bool> EndLeaseAsync(long id)
    {
        if (!await StoreAsync(epoch => store.RevokeLeaseAsync(epoch, id, CancellationToken.None)) || !_lessor.End(id))
        {
            return false;
        }
        try
        {
            await _flush;
            await DeleteLeasedKeysAsync(id);
        }
        finally
        {
            _lessor.Drained(id);
        }
        return true;
    }

    /// <summary>Deletes, in one revision, every key whose live version carries the ended lease <paramref name="id"/>.</summary>
    private async Task DeleteLeasedKeysAsync(long id)
    {
        var keys = _lessor.KeysOf(id);
        if (keys.Count == 0)
        {
            return;
        }
        var deletes = new List<TxnOp>(keys.Count);
        foreach (var key in keys)
        {
            deletes.Add(new DeleteOp(KeySpan.Single(key), PrevKv: false) { OnlyLease = id });
        }
        var result = await GrainFactory.GetGrain<ITxnCoordinatorGrain>(0).TxnAsync(new TxnRequest([], deletes, []));
        LogLeaseKeysDeleted(result.Responses.Sum(r => ((DeleteOpResult)r).Deleted), id, result.Revision);
    }

    /// <summary>A fenced lease write to the store; any failure of it is the store's unavailability.</summary>
    private async Task<bool> StoreAsync(Func<long, Task<bool>> write)
    {
        try
        {
            return await FencedAsync(write);
        }
        catch (Exception failure) when (failure is not StoreUnavailableException)
        {
            throw new StoreUnavailableException("the lease change could not be recorded", failure);
        }
    }

    [LoggerMessage(EventId = 2151, Level = LogLevel.Information, Message = "Loaded {Leases} leases and {Keys} leased keys; {Orphaned} ended leases still have keys to delete")]
    private partial void LogLeasesLoaded(int leases, int keys, int orphaned);

    [LoggerMessage(EventId = 2152, Level = LogLevel.Information, Message = "Lease {LeaseId} expired")]
    private partial void LogLeaseExpired(long leaseId);

    [LoggerMessage(EventId = 2153, Level = LogLevel.Information, Message = "Deleted {Keys} keys of ended lease {LeaseId} at revision {Revision}")]
    private partial void LogLeaseKeysDeleted(long keys, long leaseId, long revision);

    [LoggerMessage(EventId = 2154, Level = LogLevel.Warning, Message = "Ending lease {LeaseId} failed ({Unlogged} more lease endings failed since the last such line); the next expiry check tries again, and the lease's keys stay until one succeeds. If this repeats, check that the store is reachable")]
    private partial void LogLeaseEndFailed(Exception exception, long leaseId, int unlogged);

    [LoggerMessage(EventId = 2155, Level = LogLevel.Information, Message = "Leases end again after {Failures} failed attempts")]
    private partial void LogLeaseEndRecovered(int failures);
}

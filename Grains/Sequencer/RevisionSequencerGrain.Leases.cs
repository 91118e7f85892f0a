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
/// lease (puts naming it are refused from then on) and waits for the flush under way (its puts were checked
/// before). Then every key whose live version still carries the lease is deleted as ONE mutation group through the
/// coordinator: one revision, however many key ranges the keys span. For a revoke the coordinator does that; for
/// an expiry the sequencer starts it and no call or timer tick of the sequencer awaits it, because the deletion
/// comes back to the sequencer through the key ranges and a deactivating activation takes no new call until the
/// ones it runs have ended. At activation every recorded lease is re-armed for its full TTL. Keys carrying a lease
/// that no longer exists (a revoke cut short by a crash) are deleted by the first timer tick, as are the keys an
/// ended lease still has <see cref="KeysLeftToDeletion"/> after its revoke or after a deletion that failed.
/// </summary>
internal sealed partial class RevisionSequencerGrain
{
    /// <summary>How often expiry is checked (etcd's lessor checks every 500 ms).</summary>
    private static readonly TimeSpan LeaseCheckInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>How long the keys of an ended lease are left to the deletion under way before the timer deletes them.</summary>
    private static readonly TimeSpan KeysLeftToDeletion = TimeSpan.FromSeconds(5);

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

    public async Task<LeaseEndResult> EndLeaseAsync(long id) =>
        await EndAsync(id)
            ? new LeaseEndResult(LeaseOutcome.Ok, _lessor.KeysOf(id), _current)
            : new LeaseEndResult(LeaseOutcome.NotFound, [], _current);

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
        LogLeasesLoaded(leases.Count, keys.Count, _lessor.Orphaned(Now).Count);
    }

    /// <summary>Ends the expired leases and starts deleting their keys, and the keys of ended leases left behind.</summary>
    private async Task ExpireLeasesAsync()
    {
        foreach (var id in _lessor.Expired(Now))
        {
            try
            {
                if (await EndAsync(id))
                {
                    LogLeaseExpired(id);
                    StartDeletingKeys(id);
                }
                LeaseEnded();
            }
            catch (Exception failure)
            {
                LeaseEndFailed(failure, id);
            }
        }
        _lessor.Orphaned(Now).ForEach(StartDeletingKeys);
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
    /// Ends a live lease: removes it from the store and the live set and waits for the flush under way; its keys are
    /// then left to their deletion for <see cref="KeysLeftToDeletion"/>. False when it was not live, or another revoke
    /// or expiry got there first.
    /// </summary>
    private async Task<bool> EndAsync(long id)
    {
        if (!_lessor.IsLive(id) || !await StoreAsync(epoch => store.RevokeLeaseAsync(epoch, id, CancellationToken.None)) || !_lessor.End(id))
        {
            return false;
        }
        await _flush;
        _lessor.LeaveKeys(id, Now + KeysLeftToDeletion);
        return true;
    }

    /// <summary>
    /// Starts deleting, in one revision, every key whose live version carries the ended lease <paramref name="id"/>;
    /// nothing awaits it (see the class summary). Its keys are left to it until it ends, and for
    /// <see cref="KeysLeftToDeletion"/> after that.
    /// </summary>
    private void StartDeletingKeys(long id)
    {
        var keys = _lessor.KeysOf(id);
        if (keys.Count > 0)
        {
            _lessor.LeaveKeys(id, TimeSpan.MaxValue);
            _ = DeleteKeysAsync(id, keys);
        }
    }

    private async Task DeleteKeysAsync(long id, IReadOnlyList<byte[]> keys)
    {
        try
        {
            var result = await GrainFactory.GetGrain<ITxnCoordinatorGrain>(0).TxnAsync(LeaseKeyDeletion.Of(id, keys));
            LogLeaseKeysDeleted(result.Responses.Sum(r => ((DeleteOpResult)r).Deleted), id, result.Revision);
            LeaseEnded();
        }
        catch (Exception failure)
        {
            LeaseEndFailed(failure, id);
        }
        finally
        {
            _lessor.LeaveKeys(id, Now + KeysLeftToDeletion);
        }
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

    [LoggerMessage(EventId = 2154, Level = LogLevel.Warning, Message = "Ending lease {LeaseId} or deleting its keys failed ({Unlogged} more such failures since the last such line); the expiry check tries again, at once for an expiry and 5 s later for a deletion, and the lease's keys stay until one succeeds. If this repeats, check that the store is reachable")]
    private partial void LogLeaseEndFailed(Exception exception, long leaseId, int unlogged);

    [LoggerMessage(EventId = 2155, Level = LogLevel.Information, Message = "Leases end again after {Failures} failed attempts")]
    private partial void LogLeaseEndRecovered(int failures);
}

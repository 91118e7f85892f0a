using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Storage;
using Microsoft.Extensions.Logging;

namespace KubeBrain.Grains.Sequencer;

/// <summary>
/// The sequencer's time lease (see <see cref="IMvccStore.OpenAsync"/>). The activation holds it, by its own
/// monotonic clock, until the reading taken before the opening, renewing append or renewal was sent, plus the
/// duration less a drift allowance; a successor cannot open the store before then. Read barriers are answered
/// only while it is held, so a deposed activation never answers one with a stale revision: past that point it
/// must renew first, which its successor has fenced. Appends renew it, an idle timer renews it every third of
/// the duration, and a graceful deactivation releases it.
/// </summary>
internal sealed partial class RevisionSequencerGrain
{
    /// <summary>The share of the duration allowed for the local clock running slower than the store's.</summary>
    private const int DriftAllowanceDivisor = 20;

    /// <summary>Until when, by <see cref="Now"/>, this activation holds the lease.</summary>
    private TimeSpan _leaseValidUntil;

    private Task _renewing = Task.CompletedTask;
    private readonly FailureStreak _renewFailures = new();

    private TimeSpan LeaseDuration => options.Value.LeaseDuration;

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _leaseValidUntil = TimeSpan.Zero;
        try
        {
            // A renewal or append still under way would extend the lease again after the release.
            await Task.WhenAll(_renewing, _flushing).WaitAsync(cancellationToken)
                .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
            await store.ReleaseLeaseAsync(_epoch, cancellationToken);
        }
        catch (Exception failure)
        {
            LogLeaseReleaseFailed(failure, _epoch);
        }
    }

    /// <summary>Opens the store, which waits out the predecessor's lease, and starts renewing this one.</summary>
    private async Task<StoreMetadata> OpenStoreAsync(CancellationToken cancellationToken)
    {
        var sent = Now;
        var metadata = await store.OpenAsync(LeaseDuration, cancellationToken);
        LeaseRenewed(sent);
        var period = LeaseDuration / 3;
        this.RegisterGrainTimer(_ => RenewOnTimerAsync(), new GrainTimerCreationOptions(period, period));
        return metadata;
    }

    /// <summary>A renewal sent at <paramref name="sent"/> succeeded (an append or a renewal).</summary>
    private void LeaseRenewed(TimeSpan sent)
    {
        var validUntil = sent + LeaseDuration - (LeaseDuration / DriftAllowanceDivisor);
        if (validUntil > _leaseValidUntil)
        {
            _leaseValidUntil = validUntil;
        }
    }

    /// <summary>Returns once the lease is held now, renewing it first if it has lapsed locally.</summary>
    private async Task EnsureLeaseAsync()
    {
        if (Now < _leaseValidUntil)
        {
            return;
        }
        await RenewLeaseAsync();
        if (Now >= _leaseValidUntil)
        {
            throw new StoreUnavailableException("the sequencer's lease could not be renewed in time", null);
        }
    }

    /// <summary>Renews the lease; callers that arrive while a renewal is under way share it.</summary>
    private Task RenewLeaseAsync()
    {
        if (_renewing.IsCompleted)
        {
            _renewing = RenewOnceAsync();
        }
        return _renewing;
    }

    /// <summary>The idle renewal: its failure is logged here, once a minute while it lasts, not thrown to the timer.</summary>
    private async Task RenewOnTimerAsync()
    {
        try
        {
            await RenewLeaseAsync();
            if (_renewFailures.Succeeded(out var failures))
            {
                LogLeaseRenewRecovered(failures);
            }
        }
        catch (Exception failure) when (failure.InnerException is not StoreFencedException)
        {
            if (_renewFailures.Failed(out var unlogged))
            {
                LogLeaseRenewFailed(failure, unlogged);
            }
        }
    }

    private async Task RenewOnceAsync()
    {
        var sent = Now;
        await FencedAsync(async epoch =>
        {
            await store.RenewLeaseAsync(epoch, LeaseDuration, CancellationToken.None);
            return true;
        });
        LeaseRenewed(sent);
    }

    [LoggerMessage(EventId = 2108, Level = LogLevel.Error, Message = "Renewing the sequencer's lease failed ({Unlogged} more renewals failed since the last such line): once it lapses, reads are answered Unavailable, and writes fail until the store answers. Check that the store is reachable: the data directory for SQLite, the server for PostgreSQL")]
    private partial void LogLeaseRenewFailed(Exception exception, int unlogged);

    [LoggerMessage(EventId = 2109, Level = LogLevel.Information, Message = "The sequencer's lease renews again after {Failures} failed renewals")]
    private partial void LogLeaseRenewRecovered(int failures);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Warning, Message = "Releasing the sequencer lease of epoch {Epoch} failed; a successor waits for it to expire (10 s by default) before it takes writes. Nothing to do unless the store is unreachable")]
    private partial void LogLeaseReleaseFailed(Exception exception, long epoch);
}

using System.Diagnostics;

namespace KubeBrain.Grains.Storage;

/// <summary>
/// The sequencer's time lease of a store that only one process opens (in memory; SQLite, whose data directory the
/// server locks), kept in that process on its monotonic clock: the same rule as a lease in the metadata row, without
/// the writes. A restart after a crash starts with no lease, so it never waits.
/// </summary>
internal sealed class ProcessSequencerLease
{
    private readonly Lock _lock = new();
    private long _epoch;
    private TimeSpan _expiry;
    private TimeSpan _duration;

    private static TimeSpan Now => Stopwatch.GetElapsedTime(0);

    /// <summary>
    /// Hands the lease to <paramref name="epoch"/>, just taken: waits out the older epoch's lease (which can no
    /// longer be renewed), then starts the new one for <paramref name="duration"/>.
    /// </summary>
    public async Task TakeOverAsync(long epoch, TimeSpan duration, CancellationToken cancellationToken)
    {
        TimeSpan wait;
        lock (_lock)
        {
            _epoch = epoch;
            _duration = duration;
            wait = _expiry - Now;
        }
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken);
        }
        TrySetExpiry(epoch, Now + duration);
    }

    /// <summary>Extends the lease of <paramref name="epoch"/> to now + <paramref name="duration"/>, fenced by it.</summary>
    public Task RenewAsync(long epoch, TimeSpan duration) => Fenced(epoch, Now + duration, "Renewing the sequencer lease");

    /// <summary>Ends the lease of <paramref name="epoch"/> at once, fenced by it.</summary>
    public Task ReleaseAsync(long epoch) => Fenced(epoch, TimeSpan.Zero, "Releasing the sequencer lease");

    /// <summary>Extends the lease of <paramref name="epoch"/>, if it is the newest, by the duration it was taken with (after an append).</summary>
    public void RenewAfterAppend(long epoch) => TrySetExpiry(epoch, Now + _duration);

    private Task Fenced(long epoch, TimeSpan expiry, string change)
    {
        lock (_lock)
        {
            return TrySetExpiry(epoch, expiry) ? Task.CompletedTask : throw StoreFencedException.Refused(change, epoch, _epoch);
        }
    }

    private bool TrySetExpiry(long epoch, TimeSpan expiry)
    {
        lock (_lock)
        {
            if (epoch != _epoch)
            {
                return false;
            }
            _expiry = expiry;
            return true;
        }
    }
}

using System.Diagnostics;

namespace KubeBrain.Grains.Interfaces;

/// <summary>
/// Keeps a failure that repeats (a retry loop, every request while a dependency is down) to at most one log line
/// a minute, and its end to one line: <see cref="Failed"/> says whether this failure is to be logged — none was in
/// the last minute — and how many went unlogged before it; <see cref="Succeeded"/> says whether a logged failure
/// has ended, with the failures since the last end. Safe to call from several threads.
/// </summary>
public sealed class FailureStreak
{
    /// <summary>How long the log stays quiet after a logged failure.</summary>
    public static readonly TimeSpan Quiet = TimeSpan.FromMinutes(1);

    private readonly Lock _lock = new();
    private int _failures;
    private int _unlogged;
    private bool _logged;
    private long _loggedAt;

    /// <summary>Counts a failure; true when it is to be logged, with the failures left unlogged since the last logged one.</summary>
    public bool Failed(out int unlogged)
    {
        lock (_lock)
        {
            _failures++;
            if (_loggedAt != 0 && Stopwatch.GetElapsedTime(_loggedAt) < Quiet)
            {
                _unlogged++;
                unlogged = 0;
                return false;
            }
            unlogged = _unlogged;
            _unlogged = 0;
            _logged = true;
            _loggedAt = Stopwatch.GetTimestamp();
            return true;
        }
    }

    /// <summary>Counts a success; true when it ends failures of which one was logged, with the failures since the last end.</summary>
    public bool Succeeded(out int failures)
    {
        failures = 0;
        if (Volatile.Read(ref _failures) == 0)
        {
            return false;
        }
        lock (_lock)
        {
            var ended = _logged;
            if (ended)
            {
                failures = _failures;
            }
            _failures = 0;
            _logged = false;
            return ended;
        }
    }
}

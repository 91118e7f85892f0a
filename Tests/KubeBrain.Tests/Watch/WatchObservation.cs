using Google.Protobuf;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Watch;

/// <summary>
/// Several watch streams on one server and the watchers a test opened on them (with client-chosen ids, so each
/// created reply names its request), recorded for the <see cref="WatchGuaranteeValidator"/>.
/// </summary>
public sealed class WatchObservation : IAsyncDisposable
{
    private readonly List<ObservedWatcher> _watchers = [];
    private readonly bool _isEtcd;
    private long _nextId;

    public WatchObservation(WatchTarget target, int streams, TimeSpan? lifetime = null)
    {
        _isEtcd = target.IsEtcd;
        Sessions = [.. Enumerable.Range(0, streams).Select(_ => target.Open(lifetime ?? TimeSpan.FromMinutes(2)))];
    }

    public IReadOnlyList<WatchSession> Sessions { get; }

    public IReadOnlyList<ObservedWatcher> Watchers
    {
        get
        {
            lock (_watchers)
            {
                return [.. _watchers];
            }
        }
    }

    /// <summary>Sends a create on stream <paramref name="stream"/> without waiting for its reply.</summary>
    public async Task<ObservedWatcher> CreateAsync(int stream, ByteString key, ByteString rangeEnd, long start, bool prevKv)
    {
        var watcher = new ObservedWatcher(stream, Interlocked.Increment(ref _nextId), key, rangeEnd, start, prevKv);
        lock (_watchers)
        {
            _watchers.Add(watcher);
        }
        await Sessions[stream].SendCreateAsync(new Rpc.WatchCreateRequest
        {
            Key = key,
            RangeEnd = rangeEnd,
            StartRevision = start,
            PrevKv = prevKv,
            WatchId = watcher.WatchId,
        });
        return watcher;
    }

    public async Task CancelAsync(ObservedWatcher watcher)
    {
        watcher.Cancelled = true;
        await Sessions[watcher.Stream].SendCancelAsync(watcher.WatchId);
    }

    /// <summary>Waits until every stream has the created reply of each of its watchers.</summary>
    public async Task WaitCreatedAsync(TimeSpan timeout)
    {
        var watchers = Watchers;
        await Task.WhenAll(Sessions.Select((session, stream) =>
        {
            var ids = watchers.Where(w => w.Stream == stream).Select(w => w.WatchId).ToHashSet();
            return session.WaitUntilAsync(log => log.Count(r => r.Created && ids.Contains(r.WatchId)) >= ids.Count, $"{ids.Count} created replies on stream {stream}", timeout);
        }));
    }

    /// <summary>
    /// Waits until every watcher that is not cancelled has received as many events as the history holds for it,
    /// or until the timeout; the validator then reports what is missing.
    /// </summary>
    public async Task WaitCompleteAsync(WatchHistory history, TimeSpan timeout)
    {
        var validator = new WatchGuaranteeValidator(history);
        var deadline = DateTime.UtcNow + timeout;
        try
        {
            await WaitCreatedAsync(timeout);
            var watchers = Watchers.Where(w => !w.Cancelled).ToList();
            await Task.WhenAll(Sessions.Select((session, stream) =>
            {
                var log = session.All;
                var owed = watchers.Where(w => w.Stream == stream).ToDictionary(w => w.WatchId, w => (long)(validator.Expected(log, w)?.Count ?? 0));
                var processed = 0;
                return session.WaitUntilAsync(
                    all =>
                    {
                        for (; processed < all.Count; processed++)
                        {
                            var response = all[processed];
                            if (owed.ContainsKey(response.WatchId))
                            {
                                owed[response.WatchId] -= response.Events.Count;
                            }
                        }
                        return owed.Values.All(n => n <= 0);
                    },
                    $"every event on stream {stream}",
                    deadline - DateTime.UtcNow > TimeSpan.Zero ? deadline - DateTime.UtcNow : TimeSpan.Zero);
            }));
        }
        catch (TimeoutException)
        {
        }
    }

    /// <summary>Every violated guarantee, by watcher (on etcd, allowing its late start of prev_kv).</summary>
    public List<string> Validate(WatchHistory history) =>
        new WatchGuaranteeValidator(history, prevKvMayStartLate: _isEtcd).Validate([.. Sessions.Select(s => s.All)], Watchers);

    public async ValueTask DisposeAsync()
    {
        foreach (var session in Sessions)
        {
            await session.DisposeAsync();
        }
    }
}

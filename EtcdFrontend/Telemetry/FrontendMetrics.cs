using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grpc.Core;
using KubeBrain.EtcdFrontend.Watch;
using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Interfaces.Model;
using Microsoft.Extensions.Logging;

namespace KubeBrain.EtcdFrontend.Telemetry;

/// <summary>
/// The frontend's instruments on the KubeBrain meter, named as etcd names them: the gRPC server's (as
/// go-grpc-prometheus counts them), the store's gauges and the watchers. The store's gauges come from the
/// sequencer, asked at most every <see cref="RefreshInterval"/> and only when a scrape wants them, each time within
/// <see cref="RefreshTimeout"/>: a scrape never waits longer, and while the sequencer does not answer they are left
/// out rather than reported stale.
/// </summary>
internal sealed partial class FrontendMetrics
{
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan RefreshTimeout = TimeSpan.FromSeconds(2);

    /// <summary>go-grpc-prometheus's buckets with two below 5 ms, where most of KubeBrain's RPCs end.</summary>
    private static readonly double[] HandlingBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>The codes as grpc-go spells them (its String()), indexed by code.</summary>
    private static readonly string[] CodeNames =
    [
        "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists", "PermissionDenied",
        "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable",
        "DataLoss", "Unauthenticated",
    ];

    private readonly IGrainFactory _grains;
    private readonly WatchHub _hub;
    private readonly ILogger<FrontendMetrics> _logger;
    private readonly Counter<long> _handled;
    private readonly Histogram<double> _handling;
    private readonly ConcurrentDictionary<string, (string Service, string Method)> _methods = new(StringComparer.Ordinal);
    private readonly FailureStreak _refreshFailures = new();
    private readonly Lock _lock = new();
    private Task _refreshing = Task.CompletedTask;
    private long _refreshedAt;
    private StoreGauges? _store;
    private long? _watchLag;

    public FrontendMetrics(IMeterFactory meters, IGrainFactory grains, WatchHub hub, ILogger<FrontendMetrics> logger)
    {
        _grains = grains;
        _hub = hub;
        _logger = logger;
        var meter = meters.Create(KubeBrainMeter.Name);
        _handled = meter.CreateCounter<long>(
            "grpc_server_handled", null, "Total number of RPCs completed on the server, regardless of success or failure.");
        _handling = meter.CreateHistogram(
            "grpc_server_handling_seconds", null, "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.", null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = HandlingBuckets });
        meter.CreateObservableGauge(
            "etcd_mvcc_db_total_size_in_bytes", () => Store(s => s.DbSize), null, "Total size of the underlying database physically allocated in bytes.");
        meter.CreateObservableGauge(
            "etcd_debugging_mvcc_keys_total", () => Store(s => s.Keys), null, "Total number of keys.");
        meter.CreateObservableGauge(
            "etcd_debugging_mvcc_current_revision", () => Store(s => s.Revision), null, "The current revision of store.");
        meter.CreateObservableGauge(
            "etcd_debugging_mvcc_compact_revision", () => Store(s => s.CompactRevision), null, "The revision of the last compaction in store.");
        meter.CreateObservableGauge(
            "etcd_debugging_mvcc_watcher_total", () => (long)_hub.WatcherCounts.Watchers, null, "Total number of watchers.");
        meter.CreateObservableGauge(
            "etcd_debugging_mvcc_slow_watcher_total", () => (long)_hub.WatcherCounts.Unsynced, null, "Total number of unsynced slow watchers.");
        meter.CreateObservableGauge(
            "kubebrain_watch_lag_revisions", WatchLag, null,
            "Revisions committed but not yet received by this frontend's watch feed, when the store's gauges were read (only once a watch has started the feed).");
    }

    /// <summary>Counts a finished RPC, <paramref name="method"/> being the gRPC path (<c>/etcdserverpb.KV/Put</c>).</summary>
    public void Handled(string method, string type, StatusCode code, long startedTimestamp)
    {
        if (!_handled.Enabled)
        {
            return;
        }
        var (service, name) = _methods.GetOrAdd(method, Split);
        var tags = new TagList
        {
            { "grpc_service", service },
            { "grpc_method", name },
            { "grpc_type", type },
        };
        _handling.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds, tags);
        tags.Add("grpc_code", (int)code < CodeNames.Length ? CodeNames[(int)code] : code.ToString());
        _handled.Add(1, tags);
    }

    /// <summary>
    /// Reads the store's gauges again if the last reading is older than <see cref="RefreshInterval"/>; scrapes
    /// that arrive meanwhile share the reading under way. Never fails, and never takes longer than the timeout.
    /// </summary>
    public Task RefreshAsync()
    {
        lock (_lock)
        {
            if (_refreshing.IsCompleted && (_refreshedAt == 0 || Stopwatch.GetElapsedTime(_refreshedAt) >= RefreshInterval))
            {
                _refreshing = RefreshOnceAsync();
            }
            return _refreshing;
        }
    }

    private async Task RefreshOnceAsync()
    {
        StoreGauges? store = null;
        try
        {
            store = await _grains.GetGrain<IRevisionSequencerGrain>(0).GaugesAsync().WaitAsync(RefreshTimeout);
            if (_refreshFailures.Succeeded(out var failures))
            {
                LogRefreshRestored(failures);
            }
        }
        catch (Exception e)
        {
            if (_refreshFailures.Failed(out var unlogged))
            {
                LogRefreshFailed(e, unlogged);
            }
        }
        var lag = store is not null && _hub.Feeding ? Math.Max(0, store.Revision - _hub.Fed) : (long?)null;
        lock (_lock)
        {
            _store = store;
            _watchLag = lag;
            _refreshedAt = Stopwatch.GetTimestamp();
        }
    }

    private IEnumerable<Measurement<long>> Store(Func<StoreGauges, long?> gauge)
    {
        StoreGauges? store;
        lock (_lock)
        {
            store = _store;
        }
        return store is not null && gauge(store) is { } value ? [new Measurement<long>(value)] : [];
    }

    private IEnumerable<Measurement<long>> WatchLag()
    {
        lock (_lock)
        {
            return _watchLag is { } lag ? [new Measurement<long>(lag)] : [];
        }
    }

    private static (string Service, string Method) Split(string method)
    {
        var slash = method.LastIndexOf('/');
        return slash > 0 ? (method[1..slash], method[(slash + 1)..]) : ("", method.TrimStart('/'));
    }

    [LoggerMessage(EventId = 1401, Level = LogLevel.Warning, Message = "The store's gauges could not be read from the sequencer ({Unlogged} more failures since the last such line); /metrics leaves them out until they can. If this persists, check that this frontend reaches the silos")]
    private partial void LogRefreshFailed(Exception exception, int unlogged);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Information, Message = "The store's gauges are read again after {Failures} failures")]
    private partial void LogRefreshRestored(int failures);
}

using Google.Protobuf;
using Grpc.Core;
using KubeBrain.Tests.Differential;
using KubeBrain.Tests.Watch;
using Mvcc = KubeBrain.Protos.Mvccpb;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Robustness;

/// <summary>One stream's life of a resumable watch: what it asked for and every response, in arrival order.</summary>
public sealed class WatchSegment(ObservedWatcher watcher, string endpoint)
{
    private readonly List<Rpc.WatchResponse> _log = [];

    public ObservedWatcher Watcher { get; } = watcher;

    public string Endpoint { get; } = endpoint;

    public IReadOnlyList<Rpc.WatchResponse> Log
    {
        get
        {
            lock (_log)
            {
                return [.. _log];
            }
        }
    }

    internal void Add(Rpc.WatchResponse response)
    {
        lock (_log)
        {
            _log.Add(response);
        }
    }
}

/// <summary>
/// A watch as a client library keeps it: when its stream breaks, it opens a new one on the next endpoint from the
/// revision after the last event it received (etcd's resumable guarantee). Each stream is a segment; a segment that
/// broke only has to hold a gap-free prefix of its events, the last one everything up to the end of the run.
/// </summary>
public sealed class ResumableWatch(IReadOnlyList<Endpoint> endpoints, int firstEndpoint, ByteString key, ByteString rangeEnd, bool prevKv, long start)
{
    private const long WatchId = 1;
    private static readonly TimeSpan Reconnect = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan ProgressRetry = TimeSpan.FromMilliseconds(200);

    private readonly List<WatchSegment> _segments = [];
    private readonly SemaphoreSlim _sending = new(1, 1);
    private AsyncDuplexStreamingCall<Rpc.WatchRequest, Rpc.WatchResponse>? _call;
    private TaskCompletionSource _progressed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _next = start;

    /// <summary>The revision after the last event received.</summary>
    public long Next => Interlocked.Read(ref _next);

    public string Describe { get; } = $"watch [{ProtoText.Format(new Rpc.WatchCreateRequest { Key = key, RangeEnd = rangeEnd, PrevKv = prevKv, StartRevision = start })}]";

    public IReadOnlyList<WatchSegment> Segments
    {
        get
        {
            lock (_segments)
            {
                return [.. _segments];
            }
        }
    }

    /// <summary>Every event received, in order, over all segments.</summary>
    public IEnumerable<Mvcc.Event> Events => Segments.SelectMany(s => s.Log).Where(r => r.WatchId == WatchId).SelectMany(r => r.Events);

    /// <summary>Watches until <paramref name="stop"/>, reopening broken streams.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        var endpoint = firstEndpoint;
        while (!stop.IsCancellationRequested)
        {
            var segment = new WatchSegment(new ObservedWatcher(0, WatchId, key, rangeEnd, Next, prevKv), endpoints[endpoint].Name);
            lock (_segments)
            {
                _segments.Add(segment);
            }
            try
            {
                await FollowAsync(endpoints[endpoint], segment, stop);
            }
            catch (RpcException) when (!stop.IsCancellationRequested)
            {
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
            segment.Watcher.Cancelled = true;
            endpoint = (endpoint + 1) % endpoints.Count;
            await Task.Delay(Reconnect, stop).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// Waits until every event up to <paramref name="revision"/> has arrived, asking the stream for progress (a
    /// progress response at R means every event up to R was sent) until it has.
    /// </summary>
    public async Task WaitDeliveredAsync(long revision, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var progressed = Volatile.Read(ref _progressed).Task;
            if (Next > revision)
            {
                return;
            }
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"{Describe} received events up to revision {Next - 1}, not {revision}");
            }
            await RequestProgressAsync();
            await progressed.WaitAsync(left < ProgressRetry ? left : ProgressRetry).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private async Task RequestProgressAsync()
    {
        await _sending.WaitAsync();
        try
        {
            if (_call is { } call)
            {
                await call.RequestStream.WriteAsync(new Rpc.WatchRequest { ProgressRequest = new Rpc.WatchProgressRequest() });
            }
        }
        catch (RpcException)
        {
        }
        finally
        {
            _sending.Release();
        }
    }

    private async Task FollowAsync(Endpoint endpoint, WatchSegment segment, CancellationToken stop)
    {
        using var call = new Rpc.Watch.WatchClient(endpoint.Channel).Watch(cancellationToken: stop);
        await _sending.WaitAsync(stop);
        try
        {
            await call.RequestStream.WriteAsync(new Rpc.WatchRequest
            {
                CreateRequest = new Rpc.WatchCreateRequest { Key = key, RangeEnd = rangeEnd, PrevKv = prevKv, StartRevision = segment.Watcher.RequestedStart, WatchId = WatchId },
            }, stop);
            _call = call;
        }
        finally
        {
            _sending.Release();
        }
        try
        {
            await ReadAsync(call, segment, stop);
        }
        finally
        {
            await _sending.WaitAsync(CancellationToken.None);
            _call = null;
            _sending.Release();
        }
    }

    private async Task ReadAsync(AsyncDuplexStreamingCall<Rpc.WatchRequest, Rpc.WatchResponse> call, WatchSegment segment, CancellationToken stop)
    {
        await foreach (var response in call.ResponseStream.ReadAllAsync(stop))
        {
            segment.Add(response);
            if (response.Canceled)
            {
                return;
            }
            if (response.Events.Count > 0)
            {
                Interlocked.Exchange(ref _next, response.Events[^1].Kv.ModRevision + 1);
            }
            else if (response.WatchId == -1 && Next <= response.Header.Revision)
            {
                Interlocked.Exchange(ref _next, response.Header.Revision + 1);
            }
            Interlocked.Exchange(ref _progressed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }
    }
}

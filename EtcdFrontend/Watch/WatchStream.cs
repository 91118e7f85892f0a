using System.Threading.Channels;
using Grpc.Core;
using KubeBrain.EtcdFrontend.Mapping;
using KubeBrain.Grains.Interfaces.Model;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Watch;

/// <summary>
/// One Watch gRPC stream: its watchers, their ids, and one ordered outbound queue drained by a single send loop,
/// so responses leave in exactly the order they were queued. The queue is bounded: the hub never waits on it; a
/// watcher whose response does not fit is parked and catches up from history instead.
/// </summary>
internal sealed class WatchStream(ResponseHeaders headers, int maxResponseBytes)
{
    private const int QueueCapacity = 1024;

    private readonly Channel<Rpc.WatchResponse> _queue = Channel.CreateBounded<Rpc.WatchResponse>(
        new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private readonly Dictionary<long, Watcher> _watchers = [];
    private long _nextId;
    private long _lastHeader;

    /// <summary>The stream's watchers. Read and changed only under the hub's lock.</summary>
    public IEnumerable<Watcher> Watchers => _watchers.Values;

    /// <summary>Whether a client-chosen id is free on this stream.</summary>
    public bool IsFree(long id) => !_watchers.ContainsKey(id);

    /// <summary>The next server-chosen id, counting up from 0 and skipping ids in use, as etcd picks them.</summary>
    public long NextId()
    {
        while (_watchers.ContainsKey(_nextId))
        {
            _nextId++;
        }
        return _nextId++;
    }

    public void Add(Watcher watcher) => _watchers.Add(watcher.Id, watcher);

    public Watcher? Remove(long id) => _watchers.Remove(id, out var watcher) ? watcher : null;

    public List<Watcher> RemoveAll()
    {
        var all = _watchers.Values.ToList();
        _watchers.Clear();
        return all;
    }

    /// <summary>A response with only a header and a watch id.</summary>
    public Rpc.WatchResponse Notice(long watchId, long revision) => new() { Header = Header(revision), WatchId = watchId };

    /// <summary>
    /// The responses carrying one revision's events for <paramref name="watcher"/>: one, or several marked as
    /// fragments when the watcher asked for fragmentation and the response is larger than the request limit.
    /// </summary>
    public List<Rpc.WatchResponse> Events(Watcher watcher, List<WatchEvent> events, long revision)
    {
        var response = new Rpc.WatchResponse { Header = Header(revision), WatchId = watcher.Id };
        foreach (var e in events)
        {
            response.Events.Add(ProtoMapping.ToProto(e, watcher.PrevKv));
        }
        if (!watcher.Fragment || response.Events.Count < 2 || response.CalculateSize() <= maxResponseBytes)
        {
            return [response];
        }
        var fragments = new List<Rpc.WatchResponse>();
        var current = new Rpc.WatchResponse { Header = response.Header, WatchId = watcher.Id, Fragment = true };
        foreach (var e in response.Events)
        {
            if (current.Events.Count > 0 && current.CalculateSize() + e.CalculateSize() > maxResponseBytes)
            {
                fragments.Add(current);
                current = new Rpc.WatchResponse { Header = response.Header, WatchId = watcher.Id, Fragment = true };
            }
            current.Events.Add(e);
        }
        current.Fragment = false;
        fragments.Add(current);
        return fragments;
    }

    /// <summary>Queues responses if they all fit now; false (nothing queued) when the queue is too full.</summary>
    public bool TryEnqueue(List<Rpc.WatchResponse> responses)
    {
        if (_queue.Reader.Count + responses.Count > QueueCapacity)
        {
            return false;
        }
        foreach (var response in responses)
        {
            _queue.Writer.TryWrite(response);
        }
        return true;
    }

    public bool TryEnqueue(Rpc.WatchResponse response) => _queue.Writer.TryWrite(response);

    /// <summary>Queues a response, waiting for room (catch-up and control responses, never the hub).</summary>
    public async Task EnqueueAsync(Rpc.WatchResponse response, CancellationToken cancellationToken) =>
        await _queue.Writer.WriteAsync(response, cancellationToken);

    /// <summary>Writes queued responses to the client until the stream ends.</summary>
    public async Task SendLoopAsync(IServerStreamWriter<Rpc.WatchResponse> writer, CancellationToken cancellationToken)
    {
        await foreach (var response in _queue.Reader.ReadAllAsync(cancellationToken))
        {
            await writer.WriteAsync(response, cancellationToken);
        }
    }

    public void Complete() => _queue.Writer.TryComplete();

    /// <summary>Headers on one stream never go back, as clients resume from them.</summary>
    private Rpc.ResponseHeader Header(long revision)
    {
        var header = Math.Max(revision, Interlocked.Read(ref _lastHeader));
        InterlockedMax(ref _lastHeader, header);
        return headers.At(header);
    }

    private static void InterlockedMax(ref long target, long value)
    {
        var seen = Interlocked.Read(ref target);
        while (seen < value && Interlocked.CompareExchange(ref target, value, seen) is var actual && actual != seen)
        {
            seen = actual;
        }
    }
}

using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Benchmarks;

/// <summary>etcd's benchmark workloads, with its flag names and defaults.</summary>
public static class EtcdWorkloads
{
    public static async Task<RunResult> PutAsync(BenchRun run)
    {
        var o = run.Options;
        var total = o.Long("--total", 10000);
        var keys = new KeyChooser(run, o);
        var value = ByteString.CopyFrom(new byte[o.Int("--val-size", 8)]);
        var latency = new Histogram();
        var (errors, elapsed) = await run.DriveAsync("put", total, latency, (client, index) =>
            run.Kv(client).PutAsync(new Rpc.PutRequest { Key = keys.Key(index), Value = value }).ResponseAsync);
        return Result("put", total, errors, elapsed, latency);
    }

    public static async Task<RunResult> RangeAsync(BenchRun run)
    {
        var o = run.Options;
        var total = o.Long("--total", 10000);
        var (key, end) = run.Options.Positional.Count switch
        {
            0 => (BenchRun.Bytes(run.Prefix), BenchRun.PrefixEnd(run.Prefix)),
            1 => (BenchRun.Bytes(o.Positional[0]), ByteString.Empty),
            _ => (BenchRun.Bytes(o.Positional[0]), BenchRun.Bytes(o.Positional[1])),
        };
        var serializable = (o.Text("--consistency") ?? "l") switch
        {
            "l" => false,
            "s" => true,
            var other => throw new ArgumentException($"--consistency: l or s, not {other}"),
        };
        var latency = new Histogram();
        var (errors, elapsed) = await run.DriveAsync("range", total, latency, (client, _) =>
            run.Kv(client).RangeAsync(new Rpc.RangeRequest { Key = key, RangeEnd = end, Serializable = serializable }).ResponseAsync);
        return Result("range", total, errors, elapsed, latency);
    }

    public static async Task<RunResult> TxnPutAsync(BenchRun run)
    {
        var o = run.Options;
        var total = o.Long("--total", 10000);
        var ops = Math.Max(1, o.Int("--txn-ops", 1));
        var keys = new KeyChooser(run, o);
        if (ops > keys.Space)
        {
            throw new ArgumentException("--txn-ops must not exceed --key-space-size: a txn writes each key once");
        }
        var value = ByteString.CopyFrom(new byte[o.Int("--val-size", 8)]);
        var latency = new Histogram();
        var (errors, elapsed) = await run.DriveAsync("txn-put", total, latency, (client, index) =>
        {
            var txn = new Rpc.TxnRequest();
            var first = keys.Number(index);
            for (var j = 0; j < ops; j++)
            {
                txn.Success.Add(new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = keys.KeyOf((first + j) % keys.Space), Value = value } });
            }
            return run.Kv(client).TxnAsync(txn).ResponseAsync;
        });
        return Result("txn-put", total, errors, elapsed, latency, new() { ["txnOps"] = ops });
    }

    /// <summary>
    /// Streams × watchers per stream watch the run's prefix; --put-total puts to it; every watcher sees every put.
    /// Requests and latency are the puts'; events/s counts events from the first put to the last event.
    /// </summary>
    public static async Task<RunResult> WatchAsync(BenchRun run)
    {
        var o = run.Options;
        var streams = Math.Max(1, o.Int("--streams", 10));
        var perStream = Math.Max(1, o.Int("--watch-per-stream", 10));
        var puts = o.Long("--put-total", 1000);
        var expected = puts * streams * perStream;
        long events = 0;
        long lastEvent = 0;
        var allSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        var watchers = await Task.WhenAll(Enumerable.Range(0, streams).Select(s => OpenWatchAsync(
            run.Watch(s), perStream, BenchRun.Bytes(run.Prefix), BenchRun.PrefixEnd(run.Prefix), 0, stop.Token,
            (_, response) =>
            {
                if (response.Events.Count > 0 && Interlocked.Add(ref events, response.Events.Count) >= expected)
                {
                    Interlocked.Exchange(ref lastEvent, Stopwatch.GetTimestamp());
                    allSeen.TrySetResult();
                }
            })));
        var value = ByteString.CopyFrom(new byte[o.Int("--val-size", 8)]);
        var latency = new Histogram();
        var start = Stopwatch.GetTimestamp();
        var (errors, elapsed) = await run.DriveAsync("watch (puts)", puts, latency, (client, index) =>
            run.Kv(client).PutAsync(new Rpc.PutRequest { Key = BenchRun.Bytes(run.Prefix + index.ToString("D8", CultureInfo.InvariantCulture)), Value = value }).ResponseAsync,
            o.Double("--put-rate", 0));
        await Task.WhenAny(allSeen.Task, Task.Delay(TimeSpan.FromSeconds(30)));
        var seen = Interlocked.Read(ref events);
        var eventSeconds = Stopwatch.GetElapsedTime(start, allSeen.Task.IsCompleted ? lastEvent : Stopwatch.GetTimestamp()).TotalSeconds;
        await CloseAsync(watchers, stop);
        return Result("watch", puts, errors, elapsed, latency, new()
        {
            ["watchers"] = streams * perStream,
            ["events"] = seen,
            ["expectedEvents"] = expected,
            ["eventsPerSecond"] = seen / eventSeconds,
        });
    }

    /// <summary>
    /// Streams × watchers per stream watch one key; puts, paced by --put-rate, go one at a time. A put's latency
    /// to each watcher is measured from when the put returned (as etcd 3.4's tool) and from when it started.
    /// </summary>
    public static async Task<RunResult> WatchLatencyAsync(BenchRun run)
    {
        var o = run.Options;
        var streams = Math.Max(1, o.Int("--streams", 10));
        var perStream = Math.Max(1, o.Int("--watchers-per-stream", 10));
        var watchers = streams * perStream;
        var puts = o.Int("--put-total", 1000);
        var rate = o.Double("--put-rate", 100);
        var key = BenchRun.Bytes(run.Prefix + "watch-latency");
        var received = new long[puts * watchers];
        var remaining = Enumerable.Repeat(watchers, puts).ToArray();
        var delivered = Enumerable.Range(0, puts).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        using var stop = new CancellationTokenSource();
        var calls = await Task.WhenAll(Enumerable.Range(0, streams).Select(s => OpenWatchAsync(
            run.Watch(s), perStream, key, ByteString.Empty, 0, stop.Token,
            (watcher, response) =>
            {
                var now = Stopwatch.GetTimestamp();
                foreach (var e in response.Events)
                {
                    var put = int.Parse(e.Kv.Value.ToStringUtf8(), CultureInfo.InvariantCulture);
                    received[(put * watchers) + (s * perStream) + watcher] = now;
                    if (Interlocked.Decrement(ref remaining[put]) == 0)
                    {
                        delivered[put].TrySetResult();
                    }
                }
            })));
        var afterReturn = new Histogram();
        var fromStart = new Histogram();
        var putLatency = new Histogram();
        long errors = 0;
        var clock = Stopwatch.StartNew();
        using (var progress = new ProgressBar("watch-latency", puts))
        {
            for (var i = 0; i < puts; i++)
            {
                var due = rate > 0 ? TimeSpan.FromSeconds(i / rate) - clock.Elapsed : TimeSpan.Zero;
                if (due > TimeSpan.Zero)
                {
                    await Task.Delay(due);
                }
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await run.Kv(i).PutAsync(new Rpc.PutRequest { Key = key, Value = BenchRun.Bytes(i.ToString(CultureInfo.InvariantCulture)) });
                }
                catch (RpcException)
                {
                    errors++;
                    continue;
                }
                var returned = Stopwatch.GetTimestamp();
                putLatency.Record(Stopwatch.GetElapsedTime(started, returned));
                if (await Task.WhenAny(delivered[i].Task, Task.Delay(TimeSpan.FromSeconds(10))) != delivered[i].Task)
                {
                    errors++;
                    continue;
                }
                for (var w = 0; w < watchers; w++)
                {
                    var at = received[(i * watchers) + w];
                    afterReturn.Record(Stopwatch.GetElapsedTime(returned, Math.Max(at, returned)));
                    fromStart.Record(Stopwatch.GetElapsedTime(started, at));
                }
                progress.Add();
            }
        }
        var elapsed = clock.Elapsed;
        await CloseAsync(calls, stop);
        return new RunResult
        {
            Workload = "watch-latency",
            Requests = afterReturn.Count,
            Errors = errors,
            Seconds = elapsed.TotalSeconds,
            LatencyHistogram = afterReturn,
            OtherHistograms = new() { ["fromPutStart"] = fromStart, ["put"] = putLatency },
            Metrics = new() { ["watchers"] = watchers, ["puts"] = putLatency.Count, ["events"] = afterReturn.Count },
        };
    }

    /// <summary>Each client keeps one lease alive over its own keep-alive stream, one request at a time.</summary>
    public static async Task<RunResult> LeaseKeepAliveAsync(BenchRun run)
    {
        var total = run.Options.Long("--total", 10000);
        var leases = await Task.WhenAll(Enumerable.Range(0, run.Clients).Select(async c =>
            (await run.Lease(c).LeaseGrantAsync(new Rpc.LeaseGrantRequest { TTL = 60 })).ID));
        var streams = Enumerable.Range(0, run.Clients).Select(c => run.Lease(c).LeaseKeepAlive()).ToArray();
        var latency = new Histogram();
        var (errors, elapsed) = await run.DriveAsync("lease-keepalive", total, latency, async (client, _) =>
        {
            await streams[client].RequestStream.WriteAsync(new Rpc.LeaseKeepAliveRequest { ID = leases[client] });
            if (!await streams[client].ResponseStream.MoveNext(CancellationToken.None))
            {
                throw new RpcException(new Status(StatusCode.Unavailable, "the keep-alive stream ended"));
            }
        });
        foreach (var (stream, c) in streams.Select((s, c) => (s, c)))
        {
            await stream.RequestStream.CompleteAsync();
            stream.Dispose();
            await run.Lease(c).LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = leases[c] });
        }
        return Result("lease-keepalive", total, errors, elapsed, latency);
    }

    /// <summary>
    /// Opens a watch stream with <paramref name="watchers"/> watches of the same range and waits until all are
    /// created; <paramref name="onEvents"/>(watcher on this stream, response) then sees each response with events.
    /// </summary>
    public static async Task<(AsyncDuplexStreamingCall<Rpc.WatchRequest, Rpc.WatchResponse> Call, Task Reader)> OpenWatchAsync(
        Rpc.Watch.WatchClient client, int watchers, ByteString key, ByteString end, long startRevision,
        CancellationToken stop, Action<int, Rpc.WatchResponse> onEvents)
    {
        var call = client.Watch(cancellationToken: stop);
        var ids = new Dictionary<long, int>();
        for (var w = 0; w < watchers; w++)
        {
            await call.RequestStream.WriteAsync(new Rpc.WatchRequest
            {
                CreateRequest = new Rpc.WatchCreateRequest { Key = key, RangeEnd = end, StartRevision = startRevision },
            });
            if (!await call.ResponseStream.MoveNext(stop) || !call.ResponseStream.Current.Created)
            {
                throw new InvalidOperationException("the watch was not created");
            }
            ids[call.ResponseStream.Current.WatchId] = w;
        }
        async Task Read()
        {
            try
            {
                while (await call.ResponseStream.MoveNext(stop))
                {
                    var response = call.ResponseStream.Current;
                    if (response.Events.Count > 0 && ids.TryGetValue(response.WatchId, out var watcher))
                    {
                        onEvents(watcher, response);
                    }
                }
            }
            catch (RpcException) when (stop.IsCancellationRequested)
            {
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        }
        return (call, Task.Run(Read, CancellationToken.None));
    }

    /// <summary>Cancels the watch streams and waits for their readers.</summary>
    public static async Task CloseAsync(IEnumerable<(AsyncDuplexStreamingCall<Rpc.WatchRequest, Rpc.WatchResponse> Call, Task Reader)> watches, CancellationTokenSource stop)
    {
        await stop.CancelAsync();
        foreach (var (call, reader) in watches)
        {
            await reader;
            call.Dispose();
        }
    }

    public static RunResult Result(string workload, long total, long errors, TimeSpan elapsed, Histogram latency, Dictionary<string, double>? metrics = null) => new()
    {
        Workload = workload,
        Requests = total - errors,
        Errors = errors,
        Seconds = elapsed.TotalSeconds,
        LatencyHistogram = latency,
        Metrics = metrics ?? [],
    };

    /// <summary>etcd's keys: --key-size digits under the run's prefix, random in --key-space-size or sequential.</summary>
    private sealed class KeyChooser(BenchRun run, BenchOptions options)
    {
        private readonly int _size = Math.Max(1, options.Int("--key-size", 8));
        private readonly bool _sequential = options.Switch("--sequential-keys");

        public long Space { get; } = Math.Max(1, options.Long("--key-space-size", 1));

        public long Number(long index) => _sequential ? index % Space : Random.Shared.NextInt64(Space);

        /// <summary>The key of request <paramref name="index"/>.</summary>
        public ByteString Key(long index) => KeyOf(Number(index));

        public ByteString KeyOf(long number) =>
            BenchRun.Bytes(run.Prefix + number.ToString("D" + _size.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture));
    }
}

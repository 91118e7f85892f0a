using System.Diagnostics;
using System.Text.Json.Serialization;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Benchmarks;

/// <summary>The gRPC channels of one run (--conns of them, spread over the target's endpoints) and its key prefix.</summary>
public sealed class BenchRun : IDisposable
{
    private readonly GrpcChannel[] _channels;

    public BenchRun(BenchOptions options, Target target)
    {
        Options = options;
        Tag = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()[..4]);
        _channels = [.. Enumerable.Range(0, Math.Max(1, options.Conns)).Select(i => GrpcChannel.ForAddress(
            target.Endpoints[i % target.Endpoints.Count],
            new GrpcChannelOptions
            {
                MaxReceiveMessageSize = null,
                MaxSendMessageSize = null,
                HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false },
            }))];
    }

    public BenchOptions Options { get; }

    /// <summary>This run's fresh tag, part of every key it writes.</summary>
    public string Tag { get; }

    /// <summary>The key prefix of etcd's workloads.</summary>
    public string Prefix => $"/bench-{Tag}/";

    public int Clients => Math.Max(1, Options.Clients);

    public Rpc.KV.KVClient Kv(long client) => new(Channel(client));

    public Rpc.Watch.WatchClient Watch(long client) => new(Channel(client));

    public Rpc.Lease.LeaseClient Lease(long client) => new(Channel(client));

    public void Dispose()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }
    }

    /// <summary>
    /// Runs <paramref name="total"/> requests over <see cref="Clients"/> concurrent clients, each request
    /// <paramref name="request"/>(client, index) timed into <paramref name="latency"/>; a failed request counts as an
    /// error. With <paramref name="rate"/> above 0, requests start no faster than that many a second. Answers the
    /// errors and the elapsed time.
    /// </summary>
    public async Task<(long Errors, TimeSpan Elapsed)> DriveAsync(
        string label, long total, Histogram latency, Func<int, long, Task> request, double rate = 0, int? clients = null)
    {
        long next = -1;
        long errors = 0;
        using var progress = new ProgressBar(label, total);
        var clock = Stopwatch.StartNew();
        async Task Client(int client)
        {
            long index;
            while ((index = Interlocked.Increment(ref next)) < total)
            {
                if (rate > 0)
                {
                    var due = TimeSpan.FromSeconds(index / rate) - clock.Elapsed;
                    if (due > TimeSpan.Zero)
                    {
                        await Task.Delay(due);
                    }
                }
                var start = Stopwatch.GetTimestamp();
                try
                {
                    await request(client, index);
                    latency.Record(Stopwatch.GetElapsedTime(start));
                }
                catch (RpcException)
                {
                    Interlocked.Increment(ref errors);
                }
                progress.Add();
            }
        }
        await Task.WhenAll(Enumerable.Range(0, clients ?? Clients).Select(c => Task.Run(() => Client(c))));
        return (errors, clock.Elapsed);
    }

    /// <summary>The end of the range of every key starting with <paramref name="prefix"/>.</summary>
    public static ByteString PrefixEnd(string prefix)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(prefix);
        bytes[^1]++;
        return ByteString.CopyFrom(bytes);
    }

    public static ByteString Bytes(string text) => ByteString.CopyFromUtf8(text);

    private GrpcChannel Channel(long client) => _channels[client % _channels.Length];
}

/// <summary>What one run of a workload against one target measured.</summary>
public sealed class RunResult
{
    public required string Workload { get; init; }

    public string Target { get; set; } = "";

    public int Round { get; set; }

    public required long Requests { get; init; }

    public required long Errors { get; init; }

    public required double Seconds { get; init; }

    public double Throughput => Seconds > 0 ? Requests / Seconds : 0;

    /// <summary>The latency of <see cref="Requests"/>, in microseconds.</summary>
    public LatencySummary Latency => LatencyHistogram.Summary();

    /// <summary>Further latencies the workload measured, by name, in microseconds.</summary>
    public Dictionary<string, LatencySummary> OtherLatencies => OtherHistograms.ToDictionary(h => h.Key, h => h.Value.Summary());

    /// <summary>The workload's own counts and rates.</summary>
    public Dictionary<string, double> Metrics { get; init; } = [];

    [JsonIgnore]
    public Histogram LatencyHistogram { get; init; } = new();

    [JsonIgnore]
    public Dictionary<string, Histogram> OtherHistograms { get; init; } = [];
}

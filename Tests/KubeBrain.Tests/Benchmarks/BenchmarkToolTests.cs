using System.Diagnostics;
using System.Text.Json;
using KubeBrain.Tests.Infrastructure;
using Xunit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Benchmarks;

/// <summary>An in-process KubeBrain the benchmark tool drives, shared by <see cref="BenchmarkToolTests"/>.</summary>
public sealed class BenchmarkTarget : IAsyncLifetime
{
    public KubeBrainInstance Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await KubeBrainInstance.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>
/// <c>kubebrain-bench</c>, the built program, runs every workload with tiny totals against KubeBrain, and a
/// <c>--compare</c> against KubeBrain and a real etcd; its JSON must count what the workload did.
/// </summary>
public sealed class BenchmarkToolTests(BenchmarkTarget target) : IClassFixture<BenchmarkTarget>
{
    private KubeBrainInstance Server => target.Server;

    [Fact]
    public async Task Put_writes_total_revisions()
    {
        var before = await RevisionAsync();
        var run = Single(await RunAsync("put", "--total", "200", "--clients", "4", "--conns", "2", "--key-space-size", "50"));
        Assert.Equal(200, run.GetProperty("requests").GetInt64());
        Assert.Equal(200, await RevisionAsync() - before);
        AssertSaneLatency(run.GetProperty("latency"), 200);
    }

    [Fact]
    public async Task Range_txn_put_and_lease_keepalive_count_their_requests()
    {
        var range = Single(await RunAsync("range", "--total", "200", "--consistency", "s"));
        Assert.Equal(200, range.GetProperty("requests").GetInt64());
        AssertSaneLatency(range.GetProperty("latency"), 200);

        var before = await RevisionAsync();
        var txn = Single(await RunAsync("txn-put", "--total", "200", "--txn-ops", "2", "--key-space-size", "100", "--clients", "4"));
        Assert.Equal(200, txn.GetProperty("requests").GetInt64());
        Assert.Equal(200, await RevisionAsync() - before);

        var keepAlive = Single(await RunAsync("lease-keepalive", "--total", "200", "--clients", "2"));
        Assert.Equal(200, keepAlive.GetProperty("requests").GetInt64());
        AssertSaneLatency(keepAlive.GetProperty("latency"), 200);
    }

    [Fact]
    public async Task Watch_workloads_see_every_put_at_every_watcher()
    {
        var watch = Single(await RunAsync("watch", "--put-total", "100", "--streams", "2", "--watch-per-stream", "3", "--clients", "2"));
        Assert.Equal(100, watch.GetProperty("requests").GetInt64());
        Assert.Equal(600, Metric(watch, "events"));
        Assert.True(Metric(watch, "eventsPerSecond") > 0);

        var latency = Single(await RunAsync("watch-latency", "--put-total", "50", "--put-rate", "500", "--streams", "2", "--watchers-per-stream", "2"));
        Assert.Equal(200, latency.GetProperty("requests").GetInt64());
        // Measured from the put's answer, so an event that arrives before it counts 0: all of them may.
        AssertOrderedLatency(latency.GetProperty("latency"), 200);
        var fromStart = latency.GetProperty("otherLatencies").GetProperty("fromPutStart");
        AssertSaneLatency(fromStart, 200);
        Assert.True(fromStart.GetProperty("p50").GetInt64() >= latency.GetProperty("latency").GetProperty("p50").GetInt64());
    }

    [Fact]
    public async Task Kubernetes_writes_create_update_and_delete_every_object()
    {
        var before = await RevisionAsync();
        var create = Single(await RunAsync("k8s-create", "--total", "200", "--clients", "4"));
        Assert.Equal(200, Metric(create, "created"));
        Assert.Equal(200, await RevisionAsync() - before);

        before = await RevisionAsync();
        var update = Single(await RunAsync("k8s-update", "--total", "200", "--objects", "20", "--clients", "4"));
        Assert.Equal(200, update.GetProperty("requests").GetInt64());
        Assert.Equal(20 + 200, await RevisionAsync() - before);
        AssertSaneLatency(update.GetProperty("latency"), 200);

        var delete = Single(await RunAsync("k8s-delete", "--total", "200", "--clients", "4"));
        Assert.Equal(200, Metric(delete, "deleted"));
    }

    [Fact]
    public async Task Kubernetes_lists_return_every_object()
    {
        var list = Single(await RunAsync("k8s-list", "--objects", "1000", "--total", "4", "--clients", "2"));
        Assert.Equal(4, list.GetProperty("requests").GetInt64());
        Assert.Equal(1000, Metric(list, "minObjectsPerList"));
        Assert.Equal(1000, Metric(list, "maxObjectsPerList"));
        Assert.Equal(2, Metric(list, "pagesPerList"));

        var count = Single(await RunAsync("k8s-list", "--objects", "300", "--total", "4", "--count-only"));
        Assert.Equal(300, Metric(count, "minObjectsPerList"));

        var listWatch = Single(await RunAsync("k8s-list-watch", "--objects", "200", "--put-total", "300", "--watchers", "2", "--clients", "2"));
        Assert.Equal(0, listWatch.GetProperty("errors").GetInt64());
        Assert.Equal(Metric(listWatch, "expectedEvents"), Metric(listWatch, "events"));
        Assert.True(Metric(listWatch, "events") > 0);
        Assert.True(Metric(listWatch, "timeToFirstEventMs") > 0);
    }

    [Fact]
    public async Task Heartbeats_renew_each_lease_once_an_interval()
    {
        var clock = Stopwatch.StartNew();
        var run = Single(await RunAsync("k8s-heartbeats", "--leases", "50", "--interval", "1s", "--duration", "2s"));
        Assert.Equal(100, run.GetProperty("requests").GetInt64());
        Assert.Equal(0, run.GetProperty("errors").GetInt64());
        // The count above is the check; how fast the renewals came is a measurement, not asserted.
        Assert.True(Metric(run, "renewalsPerSecond") > 0);
        AssertSaneLatency(run.GetProperty("latency"), 100);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task Compare_runs_both_targets_and_prints_the_ratios()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        var json = Path.GetTempFileName();
        try
        {
            var before = (KubeBrain: await RevisionAsync(), Etcd: await RevisionAsync(etcd.Kv));
            var (exitCode, output) = await RunProgramAsync(
                "put", "--total", "200", "--clients", "4", "--warmup", "1", "--rounds", "2", "--json", json,
                "--compare", $"kubebrain={Server.Endpoint},etcd={etcd.Endpoint}");
            Assert.True(exitCode == 0, output);
            using var document = JsonDocument.Parse(await File.ReadAllTextAsync(json));
            var runs = document.RootElement.GetProperty("runs").EnumerateArray().ToList();
            Assert.Equal(["kubebrain", "etcd", "etcd", "kubebrain"], runs.Select(r => r.GetProperty("target").GetString()));
            Assert.Equal([1, 1, 2, 2], runs.Select(r => r.GetProperty("round").GetInt32()));
            // The warm-up round put its 200 keys into each target too, and is not among the runs reported.
            Assert.Equal(before.KubeBrain + 600, await RevisionAsync());
            Assert.Equal(before.Etcd + 600, await RevisionAsync(etcd.Kv));
            Assert.All(runs, r => Assert.Equal(200, r.GetProperty("requests").GetInt64()));
            var lines = document.RootElement.GetProperty("comparison").EnumerateArray().ToDictionary(l => l.GetProperty("metric").GetString()!);
            Assert.Equal("kubebrain/etcd", lines["req/s"].GetProperty("as").GetString());
            Assert.Equal("etcd/kubebrain", lines["p99 ms"].GetProperty("as").GetString());
            foreach (var line in lines.Values.Where(l => l.GetProperty("metric").GetString() is "req/s" or "p50 ms" or "p99 ms"))
            {
                var (first, second, ratio) = (line.GetProperty("first").GetDouble(), line.GetProperty("second").GetDouble(), line.GetProperty("ratio").GetDouble());
                var expected = line.GetProperty("as").GetString() == "kubebrain/etcd" ? first / second : second / first;
                Assert.Equal(expected, ratio, 6);
            }
            Assert.Matches(@"(?m)^req/s\s+[\d.]+\s+[\d.]+\s+[\d.]+x\s+kubebrain/etcd$", output);
            Assert.Matches(@"(?m)^p99 ms\s+[\d.]+\s+[\d.]+\s+[\d.]+x\s+etcd/kubebrain$", output);
            Assert.Contains("ratio above 1 favours kubebrain", output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(json);
        }
    }

    private static void AssertSaneLatency(JsonElement latency, long count)
    {
        AssertOrderedLatency(latency, count);
        Assert.True(latency.GetProperty("max").GetInt64() > 0, latency.ToString());
    }

    private static void AssertOrderedLatency(JsonElement latency, long count)
    {
        Assert.Equal(count, latency.GetProperty("count").GetInt64());
        var (min, p50, p90, p99, p999, max) = (Get("min"), Get("p50"), Get("p90"), Get("p99"), Get("p999"), Get("max"));
        Assert.True(min <= p50 && p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max, latency.ToString());
        long Get(string name) => latency.GetProperty(name).GetInt64();
    }

    private static double Metric(JsonElement run, string name) => run.GetProperty("metrics").GetProperty(name).GetDouble();

    private static JsonElement Single(JsonDocument document) => Assert.Single(document.RootElement.GetProperty("runs").EnumerateArray().ToList());

    private Task<long> RevisionAsync() => RevisionAsync(Server.Kv);

    private static async Task<long> RevisionAsync(Rpc.KV.KVClient kv) =>
        (await kv.RangeAsync(new Rpc.RangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8("/") })).Header.Revision;

    /// <summary>Runs a workload against the shared server with --json and answers the document.</summary>
    private async Task<JsonDocument> RunAsync(params string[] args)
    {
        var json = Path.GetTempFileName();
        try
        {
            var (exitCode, output) = await RunProgramAsync([.. args, "--endpoints", Server.Endpoint, "--json", json]);
            Assert.True(exitCode == 0, output);
            return JsonDocument.Parse(await File.ReadAllTextAsync(json));
        }
        finally
        {
            File.Delete(json);
        }
    }

    private static async Task<(int ExitCode, string Output)> RunProgramAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(ServerProcess.ProgramDll(Path.Combine("Tests", "Benchmarks"), "kubebrain-bench"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await stdout + await stderr);
    }
}

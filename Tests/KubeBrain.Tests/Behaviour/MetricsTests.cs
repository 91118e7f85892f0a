using System.Net;
using KubeBrain.Silo;
using KubeBrain.Tests.Infrastructure;
using Xunit;
using static KubeBrain.Tests.Wire.WireHelpers;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Behaviour;

/// <summary>A server on SQLite with a metrics URL (no dashboard), whose store only the metrics tests write to.</summary>
public sealed class MetricsServerFixture : IAsyncLifetime
{
    public KubeBrainInstance Instance { get; private set; } = null!;

    public async Task InitializeAsync() => Instance = await KubeBrainInstance.StartAsync(StorageKind.Sqlite, configure: KubeBrainInstance.WithMetrics);

    public async Task DisposeAsync() => await Instance.DisposeAsync();
}

/// <summary>
/// <c>--listen-metrics-urls</c>: Prometheus's <c>/metrics</c> on the metrics port only, with etcd's metric names for
/// what etcd measures too, KubeBrain's own for the group commit and the watch feed, and the Orleans meter's series.
/// </summary>
public sealed class MetricsTests(MetricsServerFixture fixture) : IClassFixture<MetricsServerFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private KubeBrainInstance Kb => fixture.Instance;

    [Fact]
    public async Task AWorkload_ShowsInTheMetrics_WithEtcdsNames()
    {
        var p = NewPrefix("metrics");
        using var timeout = new CancellationTokenSource(Wait);
        using var watch = new Rpc.Watch.WatchClient(Kb.Channel).Watch(cancellationToken: timeout.Token);
        await watch.RequestStream.WriteAsync(new Rpc.WatchRequest { CreateRequest = new Rpc.WatchCreateRequest { Key = B(p), RangeEnd = PrefixEnd(p) } });
        Assert.True(await watch.ResponseStream.MoveNext(timeout.Token) && watch.ResponseStream.Current.Created);
        long last = 0;
        foreach (var i in Enumerable.Range(0, 4))
        {
            last = (await Kb.Kv.PutAsync(Put($"{p}{i}", "v"))).Header.Revision;
        }
        last = (await Kb.Kv.DeleteRangeAsync(Delete($"{p}0"))).Header.Revision;
        Assert.Equal(3, (await Kb.Kv.RangeAsync(Prefix(p))).Count);
        Assert.True(await watch.ResponseStream.MoveNext(timeout.Token));

        // The live keys are counted once per sequencer activation, off its turn: the gauge appears when that is done.
        var samples = await ScrapeUntilAsync(s => Value(s, "etcd_debugging_mvcc_current_revision") >= last && Value(s, "etcd_debugging_mvcc_keys_total") >= 0);

        Assert.True(Value(samples, "grpc_server_handled_total", "grpc_method=Put", "grpc_code=OK", "grpc_service=etcdserverpb.KV", "grpc_type=unary") >= 4);
        Assert.True(Value(samples, "grpc_server_handled_total", "grpc_method=Range", "grpc_code=OK") >= 1);
        Assert.True(Value(samples, "grpc_server_handling_seconds_count", "grpc_method=Put", "grpc_type=unary") >= 4);
        Assert.True(Value(samples, "grpc_server_handling_seconds_bucket", "grpc_method=Put", "le=+Inf") >= 4);
        Assert.Equal(3, Value(samples, "etcd_debugging_mvcc_keys_total"));
        Assert.Equal(0, Value(samples, "etcd_debugging_mvcc_compact_revision"));
        Assert.True(Value(samples, "etcd_mvcc_db_total_size_in_bytes") > 0);
        Assert.Equal(1, Value(samples, "etcd_debugging_mvcc_watcher_total"));
        Assert.Equal(0, Value(samples, "etcd_debugging_mvcc_slow_watcher_total"));
        Assert.InRange(Value(samples, "kubebrain_watch_lag_revisions"), 0, 5);
        Assert.True(Value(samples, "kubebrain_group_commit_batch_rows_count") >= 5);
        Assert.True(Value(samples, "kubebrain_group_commit_batch_revisions_sum") >= 5);
        Assert.True(Value(samples, "kubebrain_storage_append_seconds_count") >= 1);
        Assert.True(samples.Where(s => s.Name == "orleans_catalog_activations").Sum(s => s.Value) >= 1);

        await Kb.Kv.PutAsync(Put($"{p}new", "v"));
        last = (await Kb.Kv.DeleteRangeAsync(new Rpc.DeleteRangeRequest { Key = B($"{p}1"), RangeEnd = B($"{p}3") })).Header.Revision;
        await Task.Delay(FrontendRefreshInterval);
        samples = await ScrapeUntilAsync(s => Value(s, "etcd_debugging_mvcc_current_revision") >= last);
        Assert.Equal(2, Value(samples, "etcd_debugging_mvcc_keys_total"));
    }

    [Fact]
    public async Task TheMetricsAreServedOnTheMetricsPort_TheClientPortAnswersTheProcessSeriesOnly()
    {
        using var h2c = H2c.Client();
        using var overH2c = await h2c.GetAsync($"{Kb.Endpoint}/metrics");
        var text = await overH2c.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, overH2c.StatusCode);
        Assert.True(ProcessSeries(text, "process_resident_memory_bytes") > 0);
        Assert.DoesNotContain("etcd_", text, StringComparison.Ordinal);
        Assert.Equal(
            new[] { Kb.Endpoint, Kb.MetricsEndpoint }.Order(),
            Kb.Addresses.Order());
    }

    /// <summary>
    /// etcdctl check datascale reads <c>process_resident_memory_bytes</c> with an HTTP/1.1 GET of
    /// <c>http://&lt;first endpoint&gt;/metrics</c>: the cleartext client port answers it, gRPC on it goes on.
    /// </summary>
    [Fact]
    public async Task TheClientPort_AnswersAnHttp11GetOfMetrics_AsEtcdctlCheckDatascaleSendsIt()
    {
        await using var plain = await KubeBrainInstance.StartAsync();
        using var http = new HttpClient();
        using var metrics = await http.GetAsync($"{plain.Endpoint}/metrics");
        using var other = await http.GetAsync($"{plain.Endpoint}/health");
        var put = await plain.Kv.PutAsync(Put(NewPrefix("http1"), "v"));

        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Equal(new Version(1, 1), metrics.Version);
        Assert.True(ProcessSeries(await metrics.Content.ReadAsStringAsync(), "process_resident_memory_bytes") > 0);
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        Assert.True(put.Header.Revision > 0);
    }

    [Fact]
    public async Task Health_IsEtcdsOnTheMetricsPort_AndTheGrpcHealthService_WhileTheClusterAnswers()
    {
        using var http = new HttpClient();
        using var health = await http.GetAsync($"{Kb.MetricsEndpoint}/health");
        using var h2c = H2c.Client();
        using var onClientPort = await h2c.GetAsync($"{Kb.Endpoint}/health");
        var grpc = await new Grpc.Health.V1.Health.HealthClient(Kb.Channel).CheckAsync(new Grpc.Health.V1.HealthCheckRequest());

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("{\"health\":\"true\",\"reason\":\"\"}", await health.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, onClientPort.StatusCode);
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, grpc.Status);
    }

    [Fact]
    public async Task ASiloWithoutAFrontend_ServesItsMetrics()
    {
        await using var silo = await KubeBrainInstance.StartAsync(configure: o => KubeBrainInstance.WithMetrics(o) with { Frontend = false });
        using var http = new HttpClient();
        using var metrics = await http.GetAsync($"{silo.MetricsEndpoint}/metrics");
        using var health = await http.GetAsync($"{silo.MetricsEndpoint}/health");

        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Contains("orleans_", await metrics.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, health.StatusCode);
    }

    [Fact]
    public async Task WithoutTheDashboardFlag_NoDashboardIsServed()
    {
        using var http = new HttpClient();
        using var response = await http.GetAsync($"{Kb.MetricsEndpoint}/dashboard/");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task WithoutMetricsUrls_NothingMoreListens()
    {
        await using var plain = await KubeBrainInstance.StartAsync();

        Assert.Equal([plain.Endpoint], plain.Addresses);
    }

    private static TimeSpan FrontendRefreshInterval => EtcdFrontend.Telemetry.FrontendMetrics.RefreshInterval;

    /// <summary>A series' value as etcdctl reads it: the text after the name on the line that starts with it.</summary>
    private static double ProcessSeries(string text, string name) =>
        double.Parse(text.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal))[name.Length..], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Scrapes until <paramref name="ready"/> holds (the store's gauges are read at most every couple of seconds).</summary>
    private async Task<IReadOnlyList<PrometheusSample>> ScrapeUntilAsync(Func<IReadOnlyList<PrometheusSample>, bool> ready)
    {
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            using var response = await http.GetAsync($"{Kb.MetricsEndpoint}/metrics");
            response.EnsureSuccessStatusCode();
            Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
            var samples = PrometheusText.Parse(await response.Content.ReadAsStringAsync());
            if (ready(samples))
            {
                return samples;
            }
            Assert.True(DateTime.UtcNow < deadline, "the metrics did not show the workload in time");
            await Task.Delay(250);
        }
    }

    /// <summary>The value of the one sample of <paramref name="name"/> with these labels; -1 when there is none.</summary>
    private static double Value(IReadOnlyList<PrometheusSample> samples, string name, params string[] labels)
    {
        var matching = samples.Where(s => s.Name == name && s.Has(labels)).ToList();
        Assert.True(matching.Count <= 1, $"{matching.Count} samples of {name} {string.Join(",", labels)}");
        return matching.Count == 0 ? -1 : matching[0].Value;
    }
}

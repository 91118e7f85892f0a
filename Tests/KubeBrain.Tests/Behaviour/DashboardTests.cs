using System.Net;
using System.Text.RegularExpressions;
using KubeBrain.Tests.Infrastructure;
using Xunit;

namespace KubeBrain.Tests.Behaviour;

/// <summary>A server with a metrics URL and <c>--enable-dashboard</c>.</summary>
public sealed class DashboardServerFixture : IAsyncLifetime
{
    public KubeBrainInstance Instance { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Instance = await KubeBrainInstance.StartAsync(configure: o => KubeBrainInstance.WithMetrics(o) with { EnableDashboard = true });

    public async Task DisposeAsync() => await Instance.DisposeAsync();
}

/// <summary><c>--enable-dashboard</c>: the Orleans dashboard at <c>/dashboard/</c> on the metrics port, and nowhere else.</summary>
public sealed partial class DashboardTests(DashboardServerFixture fixture) : IClassFixture<DashboardServerFixture>
{
    private KubeBrainInstance Kb => fixture.Instance;

    [Fact]
    public async Task TheDashboardPage_IsServedOnTheMetricsPort_AndNotOnTheClientPort()
    {
        using var http = new HttpClient();
        using var page = await http.GetAsync($"{Kb.MetricsEndpoint}/dashboard/");
        using var h2c = H2c.Client();
        using var onClientPort = await h2c.GetAsync($"{Kb.Endpoint}/dashboard/");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<title>Orleans Dashboard</title>", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, onClientPort.StatusCode);
    }

    /// <summary>The page is a React app that renders the cluster from the dashboard's JSON: a browser shows it.</summary>
    [ChromiumFact]
    public async Task InABrowser_TheDashboardRendersTheCluster()
    {
        var text = await Chromium.RenderedTextAsync($"{Kb.MetricsEndpoint}/dashboard/", TimeSpan.FromSeconds(5));

        Assert.Matches(ActiveSilos(), text);
        Assert.Matches(TotalActivations(), text);
    }

    [GeneratedRegex(@"Active Silos 1\b")]
    private static partial Regex ActiveSilos();

    [GeneratedRegex(@"Total Activations [1-9][0-9]*\b")]
    private static partial Regex TotalActivations();
}

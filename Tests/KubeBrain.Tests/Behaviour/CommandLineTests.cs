using System.Net;
using System.Net.Sockets;
using KubeBrain.EtcdFrontend.Hosting;
using KubeBrain.Silo;
using KubeBrain.Tests.Infrastructure;
using Xunit;

namespace KubeBrain.Tests.Behaviour;

/// <summary>The programs' command lines, run as a user runs them.</summary>
public sealed class CommandLineTests
{
    private static readonly string[] FrontendFlags =
    [
        "--listen-client-urls", "--advertise-client-urls", "--listen-metrics-urls", "--name", "--cluster-id", "--service-id", "--postgres-connection-string",
        "--max-request-bytes", "--max-txn-ops", "--emulated-etcd-version", "--experimental-watch-progress-notify-interval",
        "--memory-trim-interval", "--cert-file", "--key-file", "--trusted-ca-file", "--client-cert-auth",
    ];

    [Fact]
    public async Task ServerHelpListsEveryFlag()
    {
        var (exitCode, output) = await ServerProcess.RunToExitAsync(ServerRole.Silo, "--help");
        Assert.Equal(0, exitCode);
        foreach (var flag in FrontendFlags.Concat(["--data-dir", "--storage", "--postgres-pool-size", "--value-cache-mb", "--silo-port", "--gateway-port", "--advertise-address", "--frontend", "--enable-dashboard"]))
        {
            Assert.Contains(flag, output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task FrontendHelpListsEveryFlag()
    {
        var (exitCode, output) = await ServerProcess.RunToExitAsync(ServerRole.Frontend, "--help");
        Assert.Equal(0, exitCode);
        Assert.StartsWith("Usage: kubebrain-frontend", output, StringComparison.Ordinal);
        foreach (var flag in FrontendFlags)
        {
            Assert.Contains(flag, output, StringComparison.Ordinal);
        }
        Assert.DoesNotContain("--data-dir", output, StringComparison.Ordinal);
        Assert.DoesNotContain("--enable-dashboard", output, StringComparison.Ordinal);
    }

    /// <summary><c>--enable-dashboard</c> stands alone or takes <c>=true</c> / <c>=false</c>; it never takes the next argument.</summary>
    [Theory]
    [InlineData(new[] { "--listen-metrics-urls", "http://127.0.0.1:9100,http://localhost:9101", "--enable-dashboard", "--name", "m" }, true)]
    [InlineData(new[] { "--listen-metrics-urls=http://127.0.0.1:9100,http://localhost:9101", "--enable-dashboard=false" }, false)]
    public async Task TheMetricsFlags_Parse(string[] args, bool dashboard)
    {
        ServerOptions? parsed = null;
        var exitCode = await FrontendCommandLine.RunAsync(args, "kubebrain", ServerOptions.Usage, new ServerOptions(), options =>
        {
            parsed = options;
            return Task.CompletedTask;
        });

        Assert.Equal(0, exitCode);
        Assert.Equal(["http://127.0.0.1:9100/", "http://localhost:9101/"], parsed!.ListenMetricsUrls.Select(u => u.ToString()));
        Assert.Equal(dashboard, parsed.EnableDashboard);
    }

    /// <summary><c>--memory-trim-interval</c> takes a duration; a zero one (0, as Go allows, or 0s) turns the trim off.</summary>
    [Theory]
    [InlineData("30s", 30_000)]
    [InlineData("1m500ms", 60_500)]
    [InlineData("0", 0)]
    [InlineData("0s", 0)]
    public async Task TheMemoryTrimInterval_Parses(string value, int milliseconds)
    {
        ServerOptions? parsed = null;
        var exitCode = await FrontendCommandLine.RunAsync(["--memory-trim-interval", value], "kubebrain", ServerOptions.Usage, new ServerOptions(), options =>
        {
            parsed = options;
            return Task.CompletedTask;
        });

        Assert.Equal(0, exitCode);
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), parsed!.MemoryTrimInterval);
    }

    [Theory]
    [InlineData("--enable-dashboard", "--enable-dashboard needs --listen-metrics-urls: the dashboard is served on the metrics URLs")]
    [InlineData("--enable-dashboard=maybe", "--enable-dashboard: 'maybe' is not true or false")]
    public async Task ServerDashboardFlagIsChecked(string arg, string message)
    {
        var (exitCode, output) = await ServerProcess.RunToExitAsync(ServerRole.Silo, arg);
        Assert.Equal(2, exitCode);
        Assert.Contains(message, output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--storage", "mysql", "--storage: 'mysql' is not one of sqlite, memory, postgres")]
    [InlineData("--storage", "postgres", "--storage postgres needs --postgres-connection-string or the environment variable KUBEBRAIN_POSTGRES")]
    [InlineData("--postgres-connection-string", "Host", "--postgres-connection-string is not a valid connection string")]
    [InlineData("--postgres-pool-size", "0", "--postgres-pool-size: '0' is not a positive integer")]
    [InlineData("--value-cache-mb", "-1", "--value-cache-mb: '-1' is not a non-negative integer")]
    [InlineData("--max-txn-ops", "-3", "--max-txn-ops: '-3' is not a positive integer")]
    [InlineData("--listen-client-urls", "localhost:2379", "is not an http://host:port or https://host:port URL")]
    [InlineData("--emulated-etcd-version", "three", "is not a version like 3.6.0")]
    [InlineData("--advertise-address", "silo-1", "--advertise-address: 'silo-1' is not an IP address")]
    [InlineData("--frontend", "maybe", "--frontend: 'maybe' is not one of on, off")]
    [InlineData("--listen-metrics-urls", "localhost:9100", "--listen-metrics-urls: 'localhost:9100' is not an http://host:port URL")]
    [InlineData("--listen-metrics-urls", "http://127.0.0.1:2379", "--listen-metrics-urls: 'http://127.0.0.1:2379/' uses the port of a client URL")]
    [InlineData("--memory-trim-interval", "soon", "--memory-trim-interval: 'soon' is not a duration like 10m or 500ms")]
    [InlineData("--memory-trim-interval", "", "--memory-trim-interval: '' is not a duration like 10m or 500ms")]
    [InlineData("--experimental-watch-progress-notify-interval", "0", "--experimental-watch-progress-notify-interval: '0' is not a positive duration")]
    [InlineData("--no-such-flag", "1", "unknown flag --no-such-flag")]
    public async Task ServerBadValuesAreNamedAndExitNonZero(string flag, string value, string message)
    {
        var (exitCode, output) = await ServerProcess.RunToExitAsync(ServerRole.Silo, flag, value);
        Assert.Equal(2, exitCode);
        Assert.Contains(message, output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--cluster-id", "", "--cluster-id must not be empty")]
    [InlineData("--max-request-bytes", "lots", "--max-request-bytes: 'lots' is not a positive integer")]
    [InlineData("--data-dir", "/tmp", "unknown flag --data-dir")]
    [InlineData("--enable-dashboard", "true", "unknown flag --enable-dashboard")]
    public async Task FrontendBadValuesAreNamedAndExitNonZero(string flag, string value, string message)
    {
        var (exitCode, output) = await ServerProcess.RunToExitAsync(ServerRole.Frontend, "--postgres-connection-string", "Host=127.0.0.1", flag, value);
        Assert.Equal(2, exitCode);
        Assert.Contains($"kubebrain-frontend: {message}", output, StringComparison.Ordinal);
    }

    /// <summary>A server that cannot listen on its client URL says so in one line and exits with status 1, as etcd does.</summary>
    [Fact]
    public async Task AServerWhoseClientPortIsTakenExitsNamingIt()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)taken.LocalEndpoint).Port}";

        var (exitCode, output) = await ServerProcess.RunToExitAsync(
            ServerRole.Silo, "--storage", "memory", "--listen-client-urls", url, "--silo-port", ServerProcess.Port(), "--gateway-port", ServerProcess.Port());

        Assert.Equal(1, exitCode);
        Assert.Contains($"kubebrain: Failed to bind to address {url}: address already in use.", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FrontendWithoutAConnectionStringIsRefused()
    {
        var (exitCode, output) = await ServerProcess.RunToExitAsync(ServerRole.Frontend, "--name", "fe");
        Assert.Equal(2, exitCode);
        Assert.Contains("the frontend (it finds the silos in the membership table) needs --postgres-connection-string or the environment variable KUBEBRAIN_POSTGRES", output, StringComparison.Ordinal);
    }

    /// <summary>The environment variable stands in for the flag, and a bad value in it is named like a bad flag.</summary>
    [Theory]
    [InlineData(ServerRole.Silo, "--storage", "postgres")]
    [InlineData(ServerRole.Frontend, "--name", "fe")]
    public async Task ThePostgresConnectionStringMayComeFromTheEnvironment(ServerRole role, string flag, string value)
    {
        var (exitCode, output) = await ServerProcess.RunToExitWithPostgresAsync(role, "Host", flag, value);
        Assert.Equal(2, exitCode);
        Assert.Contains("KUBEBRAIN_POSTGRES is not a valid connection string", output, StringComparison.Ordinal);
    }
}

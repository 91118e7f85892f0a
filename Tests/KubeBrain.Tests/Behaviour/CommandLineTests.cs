using KubeBrain.Tests.Infrastructure;
using Xunit;

namespace KubeBrain.Tests.Behaviour;

/// <summary>The programs' command lines, run as a user runs them.</summary>
public sealed class CommandLineTests
{
    private static readonly string[] FrontendFlags =
    [
        "--listen-client-urls", "--advertise-client-urls", "--name", "--cluster-id", "--service-id", "--postgres-connection-string",
        "--max-request-bytes", "--max-txn-ops", "--emulated-etcd-version", "--experimental-watch-progress-notify-interval",
        "--cert-file", "--key-file", "--trusted-ca-file", "--client-cert-auth",
    ];

    [Fact]
    public async Task ServerHelpListsEveryFlag()
    {
        var (exitCode, output) = await ServerProcess.RunToExitAsync(ServerRole.Silo, "--help");
        Assert.Equal(0, exitCode);
        foreach (var flag in FrontendFlags.Concat(["--data-dir", "--storage", "--postgres-pool-size", "--silo-port", "--gateway-port", "--advertise-address", "--frontend"]))
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
    }

    [Theory]
    [InlineData("--storage", "mysql", "--storage: 'mysql' is not one of sqlite, memory, postgres")]
    [InlineData("--storage", "postgres", "--storage postgres needs --postgres-connection-string or the environment variable KUBEBRAIN_POSTGRES")]
    [InlineData("--postgres-connection-string", "Host", "--postgres-connection-string is not a valid connection string")]
    [InlineData("--postgres-pool-size", "0", "--postgres-pool-size: '0' is not a positive integer")]
    [InlineData("--max-txn-ops", "-3", "--max-txn-ops: '-3' is not a positive integer")]
    [InlineData("--listen-client-urls", "localhost:2379", "is not an http://host:port or https://host:port URL")]
    [InlineData("--emulated-etcd-version", "three", "is not a version like 3.6.0")]
    [InlineData("--advertise-address", "silo-1", "--advertise-address: 'silo-1' is not an IP address")]
    [InlineData("--frontend", "maybe", "--frontend: 'maybe' is not one of on, off")]
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
    public async Task FrontendBadValuesAreNamedAndExitNonZero(string flag, string value, string message)
    {
        var (exitCode, output) = await ServerProcess.RunToExitAsync(ServerRole.Frontend, "--postgres-connection-string", "Host=127.0.0.1", flag, value);
        Assert.Equal(2, exitCode);
        Assert.Contains($"kubebrain-frontend: {message}", output, StringComparison.Ordinal);
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

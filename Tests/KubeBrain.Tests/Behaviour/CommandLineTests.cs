using KubeBrain.Tests.Infrastructure;
using Xunit;

namespace KubeBrain.Tests.Behaviour;

/// <summary>The server's command line, run as a user runs it.</summary>
public sealed class CommandLineTests
{
    [Fact]
    public async Task HelpListsEveryFlag()
    {
        var (exitCode, output) = await ServerProcess.RunToExitAsync("--help");
        Assert.Equal(0, exitCode);
        foreach (var flag in new[] { "--listen-client-urls", "--advertise-client-urls", "--data-dir", "--name", "--storage", "--max-request-bytes", "--max-txn-ops", "--emulated-etcd-version", "--postgres-connection-string", "--postgres-pool-size" })
        {
            Assert.Contains(flag, output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("--storage", "mysql", "--storage: 'mysql' is not one of sqlite, memory, postgres")]
    [InlineData("--storage", "postgres", "--storage postgres needs --postgres-connection-string or the environment variable KUBEBRAIN_POSTGRES")]
    [InlineData("--postgres-connection-string", "Host", "--postgres-connection-string is not a valid connection string")]
    [InlineData("--postgres-pool-size", "0", "--postgres-pool-size: '0' is not a positive integer")]
    [InlineData("--max-txn-ops", "-3", "--max-txn-ops: '-3' is not a positive integer")]
    [InlineData("--listen-client-urls", "localhost:2379", "is not an http://host:port URL")]
    [InlineData("--emulated-etcd-version", "three", "is not a version like 3.6.0")]
    [InlineData("--no-such-flag", "1", "unknown flag --no-such-flag")]
    public async Task BadValuesAreNamedAndExitNonZero(string flag, string value, string message)
    {
        var (exitCode, output) = await ServerProcess.RunToExitAsync(flag, value);
        Assert.Equal(2, exitCode);
        Assert.Contains(message, output, StringComparison.Ordinal);
    }

    /// <summary>The environment variable stands in for the flag, and a bad value in it is named like a bad flag.</summary>
    [Fact]
    public async Task ThePostgresConnectionStringMayComeFromTheEnvironment()
    {
        var (exitCode, output) = await ServerProcess.RunToExitWithPostgresAsync("Host", "--storage", "postgres");
        Assert.Equal(2, exitCode);
        Assert.Contains("KUBEBRAIN_POSTGRES is not a valid connection string", output, StringComparison.Ordinal);
    }
}

using KubeBrain.Tests.Infrastructure;
using Xunit;
using static KubeBrain.Tests.Infrastructure.Etcd;

namespace KubeBrain.Tests.Migration;

/// <summary>
/// kubebrain-migrate's command line and its failures: bad flags exit 2 naming them, an unreachable or refusing
/// store exits 1 with one line, a stop by SIGTERM exits 143 saying how far the target got, and TLS with a client
/// certificate reaches a server that requires one.
/// </summary>
public sealed class MigrateCommandLineTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task HelpListsBothCommandsAndEveryFlag()
    {
        var (exitCode, output) = await MigrateProcess.RunAsync("--help");

        Assert.Equal(0, exitCode);
        Assert.StartsWith("Usage: kubebrain-migrate migrate", output, StringComparison.Ordinal);
        foreach (var flag in new[] { "export", "--from", "--to", "--prefix", "--cutover-key", "--advance-limit", "--from-cacert", "--from-cert", "--from-key", "--to-cacert", "--to-cert", "--to-key" })
        {
            Assert.Contains(flag, output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("", "no command: migrate or export")]
    [InlineData("copy --from http://127.0.0.1:1", "unknown command 'copy': migrate or export")]
    [InlineData("migrate --from http://127.0.0.1:1", "--to is required")]
    [InlineData("migrate --from etcd:2379 --to http://127.0.0.1:1", "--from: 'etcd:2379' is not an http://host:port or https://host:port URL")]
    [InlineData("export --from http://127.0.0.1:1 --to http://127.0.0.1:2 --bogus 1", "unknown flag --bogus")]
    [InlineData("migrate --from http://127.0.0.1:1 --to http://127.0.0.1:2 --prefix", "flag --prefix needs a value")]
    [InlineData("migrate --from http://127.0.0.1:1 --to http://127.0.0.1:2 --prefix /registry --cutover-key /cutover", "--cutover-key: '/cutover' does not start with --prefix '/registry'")]
    [InlineData("migrate --from http://127.0.0.1:1 --to http://127.0.0.1:2 --advance-limit lots", "--advance-limit: 'lots' is not a whole number")]
    [InlineData("migrate --from http://127.0.0.1:1 --to https://127.0.0.1:2 --to-cacert /no/such/ca.pem", "--to-cacert: no file '/no/such/ca.pem'")]
    [InlineData("migrate --from http://127.0.0.1:1 --to http://127.0.0.1:2 --to-cacert /etc/hostname", "--to-cacert, --to-cert and --to-key need an https:// --to URL")]
    [InlineData("migrate --from https://127.0.0.1:1 --to http://127.0.0.1:2 --from-cert /etc/hostname", "--from-cert and --from-key go together")]
    [InlineData("migrate --from https://127.0.0.1:1 --to http://127.0.0.1:2 --from-cacert /etc/hostname", "--from-cacert: cannot load '/etc/hostname'")]
    public async Task BadCommandLinesAreNamedAndExitWithStatus2(string args, string message)
    {
        var (exitCode, output) = await MigrateProcess.RunAsync(args.Split(' ', StringSplitOptions.RemoveEmptyEntries));

        Assert.Equal(2, exitCode);
        Assert.Contains($"kubebrain-migrate: {message}", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnreachableSourceIsOneLineAndStatus1()
    {
        var port = FreePort.Next();

        var (exitCode, output) = await MigrateProcess.RunAsync("migrate", "--from", $"http://127.0.0.1:{port}", "--to", $"http://127.0.0.1:{FreePort.Next()}");

        Assert.Equal(1, exitCode);
        var line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"kubebrain-migrate: cannot reach etcd at http://127.0.0.1:{port}: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ATargetThatHoldsKeysUnderThePrefixIsRefused()
    {
        await using var kubeBrain = await KubeBrainInstance.StartAsync();
        await kubeBrain.Kv.PutAsync(Put("/registry/pods/default/web", "v"));

        var (exitCode, output) = await MigrateProcess.RunAsync("export", "--from", kubeBrain.Endpoint, "--to", kubeBrain.Endpoint, "--prefix", "/registry");

        Assert.Equal(1, exitCode);
        Assert.Contains($"kubebrain-migrate: etcd at {kubeBrain.Endpoint} already holds 1 key under '/registry'; the target must be empty", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SigtermStopsTheTailWithStatus143AndSaysHowFarTheTargetGot()
    {
        await using var source = await KubeBrainInstance.StartAsync();
        await using var target = await KubeBrainInstance.StartAsync();
        await source.Kv.PutAsync(Put("/registry/a", "1"));
        await using var run = MigrateProcess.Start("migrate", "--from", source.Endpoint, "--to", target.Endpoint);
        await run.WaitForOutputAsync("now following", Timeout);
        var written = await source.Kv.PutAsync(Put("/registry/b", "2"));
        await run.WaitForOutputAsync($"through revision {written.Header.Revision};", Timeout);
        Assert.Equal("2", Assert.Single((await target.Kv.RangeAsync(Get("/registry/b"))).Kvs).Value.ToStringUtf8());

        run.Terminate();

        Assert.Equal(143, await run.WaitForExitAsync(Timeout));
        Assert.Contains($"kubebrain-migrate: stopped before the cut-over: KubeBrain at {target.Endpoint} has every change of etcd at {source.Endpoint} through revision {written.Header.Revision}", run.Output, StringComparison.Ordinal);
    }

    /// <summary>Into a server that requires client certificates: refused without one, copied with one.</summary>
    [Fact]
    public async Task MutualTlsToTheTargetWithTheCaAndAClientCertificate()
    {
        using var pki = new TestPki();
        var ca = pki.Authority("ca");
        var server = ca.IssueServer("server");
        var client = ca.IssueClient("client");
        await using var source = await KubeBrainInstance.StartAsync();
        await using var target = await KubeBrainInstance.StartAsync(
            configure: o => o with
            {
                ListenClientUrls = [new Uri($"https://127.0.0.1:{FreePort.Next()}")],
                CertFile = server.CertFile,
                KeyFile = server.KeyFile,
                TrustedCaFile = ca.CertFile,
                ClientCertAuth = true,
            },
            clientTls: ca.ClientOptions(client));
        await source.Kv.PutAsync(Put("/registry/secrets/default/token", "t"));

        var (refusedExit, refused) = await MigrateProcess.RunAsync("migrate", "--from", source.Endpoint, "--to", target.Endpoint, "--to-cacert", ca.CertFile);
        Assert.Equal(1, refusedExit);
        Assert.Contains($"kubebrain-migrate: cannot reach KubeBrain at {target.Endpoint}: ", refused, StringComparison.Ordinal);

        await using var run = MigrateProcess.Start("migrate", "--from", source.Endpoint, "--to", target.Endpoint,
            "--to-cacert", ca.CertFile, "--to-cert", client.CertFile, "--to-key", client.KeyFile);
        await run.WaitForOutputAsync("now following", Timeout);
        await source.Kv.PutAsync(Put("/kubebrain-migrate-cutover", "now"));
        Assert.Equal(0, await run.WaitForExitAsync(Timeout));
        Assert.Equal("t", Assert.Single((await target.Kv.RangeAsync(Get("/registry/secrets/default/token"))).Kvs).Value.ToStringUtf8());
    }
}

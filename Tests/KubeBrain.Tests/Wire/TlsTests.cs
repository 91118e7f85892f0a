using System.Diagnostics;
using Grpc.Core;
using KubeBrain.Tests.Infrastructure;
using Xunit;
using static KubeBrain.Tests.Infrastructure.Etcd;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Wire;

/// <summary>
/// TLS and client certificates on the client URLs, with etcd's flags, over real sockets: the .NET gRPC client and
/// etcdctl (the Go client the kube-apiserver uses too) against a server that requires client certificates.
/// </summary>
public sealed class TlsTests(TlsTests.MutualTlsServer server) : IClassFixture<TlsTests.MutualTlsServer>
{
    private static readonly TimeSpan RefusalDeadline = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task WithoutClientCertAuth_AClientThatTrustsTheCa_PutsAndGetsOverTls()
    {
        var url = new Uri($"https://127.0.0.1:{FreePort.Next()}");
        await using var kb = await KubeBrainInstance.StartAsync(
            configure: o => o with { ListenClientUrls = [url], CertFile = server.Server.CertFile, KeyFile = server.Server.KeyFile },
            clientTls: server.Ca.ClientOptions());

        await kb.Kv.PutAsync(Put("/tls/plain", "v"));

        Assert.Equal("v", Assert.Single((await kb.Kv.RangeAsync(Get("/tls/plain"))).Kvs).Value.ToStringUtf8());
        var member = Assert.Single((await new Rpc.Cluster.ClusterClient(kb.Channel).MemberListAsync(new Rpc.MemberListRequest())).Members);
        Assert.Equal([kb.Endpoint], member.ClientURLs);
    }

    [Fact]
    public async Task WithClientCertAuth_AClientCertificateSignedByTheTrustedCa_IsServed()
    {
        using var channel = server.Instance.OpenChannel(server.Ca.ClientOptions(server.Client));
        var kv = new Rpc.KV.KVClient(channel);

        await kv.PutAsync(Put("/tls/mutual", "v"));

        Assert.Equal("v", Assert.Single((await kv.RangeAsync(Get("/tls/mutual"))).Kvs).Value.ToStringUtf8());
    }

    /// <summary>
    /// The handshake is refused, so nothing is written: without a client certificate, with one from another CA, and
    /// with one of the trusted CA whose usages exclude client authentication (a server certificate), as Go refuses it.
    /// Under TLS 1.3 the client learns it only once it has sent the request, which fails as a transport error:
    /// Unavailable, or Internal when the connection breaks while the call is under way.
    /// </summary>
    [Theory]
    [InlineData("none")]
    [InlineData("other-ca")]
    [InlineData("server-usage")]
    public async Task WithClientCertAuth_OtherClients_AreRefused(string presented)
    {
        var client = presented switch
        {
            "other-ca" => server.ForeignClient,
            "server-usage" => server.Server,
            _ => null,
        };
        using var channel = server.Instance.OpenChannel(server.Ca.ClientOptions(client));
        var key = $"/tls/refused-{presented}";

        var refused = await Assert.ThrowsAsync<RpcException>(
            () => new Rpc.KV.KVClient(channel).PutAsync(Put(key, "v"), deadline: DateTime.UtcNow + RefusalDeadline).ResponseAsync);

        Assert.Contains(refused.StatusCode, new[] { StatusCode.Unavailable, StatusCode.Internal });
        Assert.Empty((await server.Kv.RangeAsync(Get(key))).Kvs);
    }

    [Fact]
    public async Task Etcdctl_WithTheClientCertificate_PutsAndGets()
    {
        var put = await server.EtcdctlAsync(TimeSpan.FromSeconds(20), "--cert", server.Client.CertFile, "--key", server.Client.KeyFile, "put", "/tls/etcdctl", "v");
        Assert.True(put.ExitCode == 0, put.Stderr);

        var get = await server.EtcdctlAsync(TimeSpan.FromSeconds(20), "--cert", server.Client.CertFile, "--key", server.Client.KeyFile, "get", "/tls/etcdctl", "--print-value-only");

        Assert.True(get.ExitCode == 0, get.Stderr);
        Assert.Equal("v", get.Stdout.Trim());
    }

    [Fact]
    public async Task Etcdctl_WithoutAClientCertificate_Fails()
    {
        var put = await server.EtcdctlAsync(TimeSpan.FromSeconds(1), "put", "/tls/etcdctl-refused", "v");

        Assert.NotEqual(0, put.ExitCode);
        Assert.Empty((await server.Kv.RangeAsync(Get("/tls/etcdctl-refused"))).Kvs);
    }

    /// <summary>
    /// Bad TLS flags are named and the program exits with status 2. In the arguments, {name} is the fixture's file
    /// of that name and {missing} a file that does not exist.
    /// </summary>
    [Theory]
    [InlineData(ServerRole.Silo, "--listen-client-urls https://127.0.0.1:2379", "--listen-client-urls: 'https://127.0.0.1:2379/' needs --cert-file and --key-file")]
    [InlineData(ServerRole.Silo, "--advertise-client-urls https://10.0.0.1:2379 --cert-file {server.pem}", "--cert-file needs --key-file")]
    [InlineData(ServerRole.Silo, "--key-file {server-key.pem}", "--key-file needs --cert-file")]
    [InlineData(ServerRole.Silo, "--client-cert-auth --cert-file {server.pem} --key-file {server-key.pem}", "--client-cert-auth needs --trusted-ca-file")]
    [InlineData(ServerRole.Silo, "--client-cert-auth=maybe", "--client-cert-auth: 'maybe' is not true or false")]
    [InlineData(ServerRole.Silo, "--cert-file {missing} --key-file {server-key.pem}", "--cert-file: cannot read {missing}")]
    [InlineData(ServerRole.Silo, "--trusted-ca-file {missing}", "--trusted-ca-file: cannot read {missing}")]
    [InlineData(ServerRole.Silo, "--trusted-ca-file {server-key.pem}", "--trusted-ca-file: {server-key.pem} holds no PEM certificate")]
    [InlineData(ServerRole.Silo, "--cert-file {server.pem} --key-file {client-key.pem}", "--key-file: {client-key.pem} holds no PEM private key that matches the certificate in --cert-file")]
    [InlineData(ServerRole.Frontend, "--postgres-connection-string Host=127.0.0.1 --listen-client-urls https://127.0.0.1:2379", "--listen-client-urls: 'https://127.0.0.1:2379/' needs --cert-file and --key-file")]
    public async Task BadTlsFlags_AreNamedAndExitWithStatus2(ServerRole role, string args, string message)
    {
        var (exitCode, output) = await ServerProcess.RunToExitAsync(role, server.Expand(args).Split(' '));

        Assert.Equal(2, exitCode);
        Assert.Contains(server.Expand(message), output, StringComparison.Ordinal);
    }

    /// <summary>
    /// One in-memory server on an https URL requiring client certificates of <see cref="Ca"/>, and the certificates
    /// of the tests: the server's, a client's of the CA, and a client's of another CA.
    /// </summary>
    public sealed class MutualTlsServer : IAsyncLifetime
    {
        private readonly TestPki _pki = new();

        public MutualTlsServer()
        {
            Ca = _pki.Authority("ca");
            Server = Ca.IssueServer("server");
            Client = Ca.IssueClient("client");
            ForeignClient = _pki.Authority("other-ca").IssueClient("foreign-client");
        }

        public TestAuthority Ca { get; }

        public IssuedCertificate Server { get; }

        public IssuedCertificate Client { get; }

        public IssuedCertificate ForeignClient { get; }

        public KubeBrainInstance Instance { get; private set; } = null!;

        /// <summary>A client with <see cref="Client"/>'s certificate.</summary>
        public Rpc.KV.KVClient Kv { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            var url = new Uri($"https://127.0.0.1:{FreePort.Next()}");
            Instance = await KubeBrainInstance.StartAsync(
                configure: o => o with
                {
                    ListenClientUrls = [url],
                    CertFile = Server.CertFile,
                    KeyFile = Server.KeyFile,
                    TrustedCaFile = Ca.CertFile,
                    ClientCertAuth = true,
                },
                clientTls: Ca.ClientOptions(Client));
            Kv = Instance.Kv;
        }

        /// <summary>Replaces {file} with the path of that file of the fixture's PKI ({missing} names none).</summary>
        public string Expand(string text)
        {
            foreach (var file in new[] { "server.pem", "server-key.pem", "client-key.pem", "missing" })
            {
                text = text.Replace($"{{{file}}}", _pki.PathOf(file), StringComparison.Ordinal);
            }
            return text;
        }

        /// <summary>
        /// Runs etcdctl against the server, trusting <see cref="Ca"/>, with <paramref name="args"/> (the client
        /// certificate among them, or not), giving up dialing and the command after <paramref name="commandTimeout"/>
        /// (whole seconds). Fails when etcdctl is not installed: the test command installs it.
        /// </summary>
        public async Task<(int ExitCode, string Stdout, string Stderr)> EtcdctlAsync(TimeSpan commandTimeout, params string[] args)
        {
            var binary = Tools.Find("etcdctl") ?? throw new InvalidOperationException(
                "etcdctl is not installed: run the README test command (it installs etcd-client)");
            var start = new ProcessStartInfo(binary)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("ETCDCTL", StringComparison.Ordinal)).ToList())
            {
                start.Environment.Remove(key);
            }
            start.Environment["ETCDCTL_API"] = "3";
            foreach (var arg in new[]
            {
                $"--endpoints={Instance.Endpoint}",
                "--cacert", Ca.CertFile,
                $"--dial-timeout={(int)commandTimeout.TotalSeconds}s",
                $"--command-timeout={(int)commandTimeout.TotalSeconds}s",
            }.Concat(args))
            {
                start.ArgumentList.Add(arg);
            }
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(commandTimeout + TimeSpan.FromSeconds(30));
            return (process.ExitCode, await stdout, await stderr);
        }

        public async Task DisposeAsync()
        {
            await Instance.DisposeAsync();
            _pki.Dispose();
        }
    }
}

using System.Net;
using System.Net.Security;
using Grpc.Net.Client;
using KubeBrain.Silo;
using Microsoft.AspNetCore.Builder;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Infrastructure;

/// <summary>A KubeBrain server started in the test process on free loopback ports, with a gRPC channel to it.</summary>
public sealed class KubeBrainInstance : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string? _ownedDataDir;

    private KubeBrainInstance(WebApplication app, ServerOptions options, string? ownedDataDir, SslClientAuthenticationOptions? clientTls)
    {
        _app = app;
        _ownedDataDir = ownedDataDir;
        Options = options;
        Endpoint = options.ListenClientUrls[0].GetLeftPart(UriPartial.Authority);
        MetricsEndpoint = options.ListenMetricsUrls.FirstOrDefault()?.GetLeftPart(UriPartial.Authority);
        Channel = OpenChannel(clientTls);
        Kv = new Rpc.KV.KVClient(Channel);
    }

    public ServerOptions Options { get; }

    /// <summary>The server's services: the grain factory, the store.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>The first client URL, http://127.0.0.1:port (or https://).</summary>
    public string Endpoint { get; }

    /// <summary>The metrics URL, http://127.0.0.1:port, when the options name one (<see cref="WithMetrics"/>).</summary>
    public string? MetricsEndpoint { get; }

    /// <summary>Every address the server's HTTP listeners bound, as http://host:port.</summary>
    public IReadOnlyList<string> Addresses => [.. _app.Urls];

    /// <summary>host:port, as etcdctl takes it.</summary>
    public string HostPort => Options.ListenClientUrls[0].Authority;

    public GrpcChannel Channel { get; }

    public Rpc.KV.KVClient Kv { get; }

    /// <summary>Options with a metrics URL on a free loopback port, for <see cref="StartAsync"/>'s configure.</summary>
    public static ServerOptions WithMetrics(ServerOptions options) =>
        options with { ListenMetricsUrls = [new Uri($"http://127.0.0.1:{FreePort.Next()}")] };

    /// <summary>
    /// Starts a server; with no data directory a SQLite store gets a fresh temporary one. <paramref name="clientTls"/>
    /// is how <see cref="Channel"/> does TLS when the first client URL is https.
    /// </summary>
    public static async Task<KubeBrainInstance> StartAsync(
        StorageKind storage = StorageKind.Memory,
        string? dataDir = null,
        Func<ServerOptions, ServerOptions>? configure = null,
        Action<WebApplicationBuilder>? customize = null,
        SslClientAuthenticationOptions? clientTls = null)
    {
        var owned = storage == StorageKind.Sqlite && dataDir is null ? Directory.CreateTempSubdirectory("kubebrain-test-").FullName : null;
        var options = new ServerOptions
        {
            ListenClientUrls = [new Uri($"http://127.0.0.1:{FreePort.Next()}")],
            Storage = storage,
            DataDir = dataDir ?? owned,
            SiloPort = FreePort.Next(),
            GatewayPort = FreePort.Next(),
            AdvertiseAddress = IPAddress.Loopback,
        };
        options = configure?.Invoke(options) ?? options;
        var app = KubeBrainServer.Build(options, customize: customize);
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        return new KubeBrainInstance(app, options, owned, clientTls);
    }

    /// <summary>A channel of its own to the first client URL, doing TLS (an https URL) as <paramref name="tls"/> says.</summary>
    public GrpcChannel OpenChannel(SslClientAuthenticationOptions? tls) => GrpcChannel.ForAddress(Endpoint, new GrpcChannelOptions
    {
        MaxReceiveMessageSize = null,
        MaxSendMessageSize = null,
        HttpHandler = tls is null ? null : new SocketsHttpHandler { SslOptions = tls },
        DisposeHttpClient = true,
    });

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (_ownedDataDir is not null)
        {
            Directory.Delete(_ownedDataDir, recursive: true);
        }
    }
}

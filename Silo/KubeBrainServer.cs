using System.Net;
using KubeBrain.EtcdFrontend.Hosting;
using KubeBrain.Grains.Storage;
using KubeBrain.Grains.Storage.InMemory;
using KubeBrain.Grains.Storage.Postgres;
using KubeBrain.Grains.Storage.Sqlite;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Orleans.Configuration;

namespace KubeBrain.Silo;

/// <summary>
/// The single-node server: an Orleans silo on localhost clustering with the etcd frontend co-hosted in the
/// same process, serving gRPC over h2c on the client URLs.
/// </summary>
public static class KubeBrainServer
{
    /// <summary>The file of the SQLite store inside the data directory.</summary>
    public const string DatabaseFile = "kubebrain.db";

    /// <param name="options">The command line's options.</param>
    /// <param name="hostArgs">Arguments for the ASP.NET Core host (configuration sources).</param>
    /// <param name="customize">Changes to the host before it is built: the place for a store decorator or silo settings.</param>
    public static WebApplication Build(ServerOptions options, string[]? hostArgs = null, Action<WebApplicationBuilder>? customize = null)
    {
        var builder = WebApplication.CreateBuilder(hostArgs ?? []);
        builder.Logging.AddFilter("Orleans", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            foreach (var url in options.ListenClientUrls)
            {
                Listen(kestrel, url);
            }
        });
        switch (options.Storage)
        {
            case StorageKind.Postgres:
                builder.Services.AddPostgresMvccStore(o =>
                {
                    o.ConnectionString = options.PostgresConnectionString!;
                    o.MaxPoolSize = options.PostgresPoolSize;
                });
                break;
            case StorageKind.Memory:
                builder.Services.AddSingleton<IMvccStore>(_ => new InMemoryMvccStore());
                break;
            default:
                builder.Services.AddSingleton<IMvccStore>(_ => new SqliteMvccStore(Path.Combine(options.EffectiveDataDir, DatabaseFile)));
                break;
        }
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort);
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = "kubebrain";
                o.ServiceId = "kubebrain";
            });
        });
        builder.Services.AddEtcdFrontend(o =>
        {
            o.Name = options.Name;
            o.AdvertiseClientUrls = [.. options.EffectiveAdvertiseClientUrls.Select(u => u.GetLeftPart(UriPartial.Authority))];
            o.MaxRequestBytes = options.MaxRequestBytes;
            o.MaxTxnOps = options.MaxTxnOps;
            o.EmulatedEtcdVersion = options.EmulatedEtcdVersion;
            o.WatchProgressNotifyInterval = options.WatchProgressNotifyInterval;
        });
        customize?.Invoke(builder);
        var app = builder.Build();
        app.MapEtcdFrontend();
        return app;
    }

    private static void Listen(KestrelServerOptions kestrel, Uri url)
    {
        Action<ListenOptions> h2c = l => l.Protocols = HttpProtocols.Http2;
        if (url.Host == "localhost")
        {
            kestrel.ListenLocalhost(url.Port, h2c);
        }
        else if (IPAddress.TryParse(url.Host.Trim('[', ']'), out var address))
        {
            kestrel.Listen(address, url.Port, h2c);
        }
        else
        {
            throw new ArgumentException($"--listen-client-urls: '{url}' must name an IP address or localhost");
        }
    }
}

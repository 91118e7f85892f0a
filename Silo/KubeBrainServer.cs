using KubeBrain.Grains.Interfaces;
using KubeBrain.EtcdFrontend.Hosting;
using KubeBrain.Grains.KeyRange;
using KubeBrain.Grains.Storage;
using KubeBrain.Grains.Storage.InMemory;
using KubeBrain.Grains.Storage.Postgres;
using KubeBrain.Grains.Storage.Sqlite;
using Microsoft.AspNetCore.Hosting.Server;
using Orleans.Configuration;
using Orleans.Dashboard;

namespace KubeBrain.Silo;

/// <summary>
/// The server: an Orleans silo with the etcd frontend co-hosted in the same process (unless turned off), serving
/// gRPC over h2c on the client URLs. On the embedded stores it is a single node on localhost clustering; on
/// PostgreSQL it joins the cluster whose membership table is in the same database (AdoNet clustering).
/// </summary>
public static class KubeBrainServer
{
    /// <summary>The file of the SQLite store inside the data directory.</summary>
    public const string DatabaseFile = "kubebrain.db";

    /// <summary>Where the Orleans dashboard is served on the metrics URLs (<c>--enable-dashboard</c>).</summary>
    public const string DashboardPath = "/dashboard";

    /// <summary>
    /// The silo's cache of grain locations: a server activates a few grains and a key range per resource, so a few
    /// thousand entries cover them. Orleans' default of a million allocates about 9 MB up front; a cluster with
    /// more grains than this still works, a location that fell out being looked up again.
    /// </summary>
    public const int DirectoryCacheEntries = 4096;

    /// <param name="options">The command line's options.</param>
    /// <param name="hostArgs">Arguments for the ASP.NET Core host (configuration sources).</param>
    /// <param name="customize">Changes to the host before it is built: the place for a store decorator or silo settings.</param>
    /// <param name="environment">
    /// The environment variables that decide on Kubernetes hosting (<see cref="KubernetesHosting"/>): the process's
    /// when null.
    /// </param>
    public static WebApplication Build(
        ServerOptions options,
        string[]? hostArgs = null,
        Action<WebApplicationBuilder>? customize = null,
        Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var kubernetes = KubernetesHosting.IsEnabled(options, environment);
        var builder = WebApplication.CreateBuilder(hostArgs ?? []);
        builder.Logging.AddQuietFrameworkFilters();
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
                builder.Services.AddHostedService(_ => new DataDirectoryLock(options.EffectiveDataDir));
                builder.Services.AddSingleton<IMvccStore>(_ => new SqliteMvccStore(Path.Combine(options.EffectiveDataDir, DatabaseFile)));
                break;
        }
        builder.Services.AddSingleton<LocalCommits>();
        builder.Services.AddSingleton<StoreMetrics>();
        builder.Services.Configure<KeyRangeOptions>(o => o.ValueCacheBytes = options.ValueCacheBytes);
        builder.UseOrleans(silo =>
        {
            if (options.Storage == StorageKind.Postgres)
            {
                UseClusterMembership(silo, options);
            }
            else
            {
                silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort);
            }
            silo.Configure<SiloOptions>(o => o.SiloName = options.Name);
            silo.Configure<GrainDirectoryOptions>(o => o.CacheSize = DirectoryCacheEntries);
            if (kubernetes)
            {
                // After the silo name (the pod's name wins) and before the cluster identity (the flags win).
                KubernetesHosting.Use(silo);
            }
            silo.Configure<ClusterOptions>(options.ApplyTo);
            if (options.EnableDashboard)
            {
                silo.AddDashboard();
            }
        });
        if (options.Frontend)
        {
            builder.AddEtcdFrontend(options);
        }
        else if (options.ListenMetricsUrls.Count == 0)
        {
            builder.Services.AddSingleton<IServer, NoHttpServer>();
        }
        builder.AddMetricsListeners(options, "kubebrain");
        builder.AddIdleMemoryTrim(options);
        customize?.Invoke(builder);
        var app = builder.Build();
        if (options.Frontend)
        {
            app.MapEtcdFrontend();
        }
        app.MapMetrics(options);
        if (options.EnableDashboard)
        {
            app.MapOrleansDashboard(DashboardPath).OnMetricsPortsOnly();
        }
        return app;
    }

    /// <summary>
    /// Membership in the store's database (its tables come with the store's migrations, applied before the silo
    /// starts), with the silo reachable at the advertised address, or at the one Orleans picks.
    /// </summary>
    private static void UseClusterMembership(ISiloBuilder silo, ServerOptions options)
    {
        silo.UseAdoNetClustering(o =>
        {
            o.Invariant = "Npgsql";
            o.ConnectionString = options.PostgresConnectionString;
        });
        if (options.AdvertiseAddress is { } address)
        {
            silo.ConfigureEndpoints(address, options.SiloPort, options.GatewayPort);
        }
        else
        {
            silo.Configure<EndpointOptions>(o =>
            {
                o.SiloPort = options.SiloPort;
                o.GatewayPort = options.GatewayPort;
            });
        }
    }
}

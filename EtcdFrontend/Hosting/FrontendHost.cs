using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

namespace KubeBrain.EtcdFrontend.Hosting;

/// <summary>
/// The frontend process: an Orleans client of the cluster named by the options, which finds the silos' gateways in
/// the membership table in PostgreSQL, serving the etcd API on the client URLs.
/// </summary>
public static class FrontendHost
{
    /// <summary>
    /// How often the client reads the gateway list again. A gateway that went away is dropped at once; this is how
    /// soon a silo that joined (or came back) takes client traffic.
    /// </summary>
    public static readonly TimeSpan GatewayListRefreshPeriod = TimeSpan.FromSeconds(10);

    public static WebApplication Build(FrontendProcessOptions options)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Logging.AddQuietFrameworkFilters();
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(options.ApplyTo);
            client.UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = options.PostgresConnectionString;
            });
            client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = GatewayListRefreshPeriod);
            client.UseConnectionRetryFilter<ClusterConnectionRetry>();
        });
        builder.AddEtcdFrontend(options);
        builder.AddMetricsListeners(options, "kubebrain-frontend");
        builder.AddIdleMemoryTrim(options);
        var app = builder.Build();
        app.MapEtcdFrontend();
        app.MapMetrics(options);
        return app;
    }
}

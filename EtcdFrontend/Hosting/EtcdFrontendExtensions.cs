using KubeBrain.EtcdFrontend.Batching;
using KubeBrain.EtcdFrontend.Cluster;
using KubeBrain.EtcdFrontend.Errors;
using KubeBrain.EtcdFrontend.Kv;
using KubeBrain.EtcdFrontend.Lease;
using KubeBrain.EtcdFrontend.Maintenance;
using KubeBrain.EtcdFrontend.Watch;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace KubeBrain.EtcdFrontend.Hosting;

/// <summary>Registers and maps the etcd v3 gRPC API on an ASP.NET Core host that can reach the grains.</summary>
public static class EtcdFrontendExtensions
{
    /// <summary>Adds the etcd services; the host must provide an <c>IGrainFactory</c>.</summary>
    public static IServiceCollection AddEtcdFrontend(this IServiceCollection services, Action<EtcdFrontendOptions> configure)
    {
        var options = new EtcdFrontendOptions();
        configure(options);
        services.Configure(configure);
        services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = options.MaxRequestBytes + EtcdFrontendOptions.GrpcOverheadBytes;
            o.MaxSendMessageSize = int.MaxValue;
            o.Interceptors.Add<ErrorInterceptor>();
        });
        services.AddGrpcHealthChecks().AddCheck("kubebrain", () => HealthCheckResult.Healthy());
        services.AddSingleton<SequencerCalls>();
        services.AddSingleton<KvBackend>();
        services.AddSingleton<ResponseHeaders>();
        services.AddSingleton<WatchHub>();
        services.AddHostedService(provider => provider.GetRequiredService<WatchHub>());
        return services;
    }

    /// <summary>Maps KV, Watch, Lease, Maintenance, Cluster and grpc.health.v1.</summary>
    public static IEndpointRouteBuilder MapEtcdFrontend(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<KvService>();
        endpoints.MapGrpcService<WatchService>();
        endpoints.MapGrpcService<MaintenanceService>();
        endpoints.MapGrpcService<ClusterService>();
        endpoints.MapGrpcService<LeaseService>();
        endpoints.MapGrpcHealthChecksService();
        return endpoints;
    }
}

using System.Net;
using Grpc.AspNetCore.Server.Model;
using KubeBrain.EtcdFrontend.Batching;
using KubeBrain.EtcdFrontend.Cluster;
using KubeBrain.EtcdFrontend.Errors;
using KubeBrain.EtcdFrontend.Kv;
using KubeBrain.EtcdFrontend.Lease;
using KubeBrain.EtcdFrontend.Maintenance;
using KubeBrain.EtcdFrontend.Telemetry;
using KubeBrain.EtcdFrontend.Watch;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KubeBrain.EtcdFrontend.Hosting;

/// <summary>Registers and maps the etcd v3 gRPC API on an ASP.NET Core host that can reach the grains.</summary>
public static class EtcdFrontendExtensions
{
    /// <summary>
    /// Logs warnings and errors only from Orleans, gRPC and the ASP.NET Core and hosting frameworks, and nothing
    /// from ASP.NET Core's per-request diagnostics: while that category logs at any level, every request starts an
    /// <see cref="System.Diagnostics.Activity"/> and a logging scope, for request logs that are below Warning anyway
    /// (an unhandled exception is still logged, by Kestrel).
    /// </summary>
    public static ILoggingBuilder AddQuietFrameworkFilters(this ILoggingBuilder logging) => logging
        .AddFilter("Orleans", LogLevel.Warning)
        .AddFilter("Polly", LogLevel.Warning)
        .AddFilter("Grpc", LogLevel.Warning)
        .AddFilter("Microsoft.AspNetCore", LogLevel.Warning)
        .AddFilter(RequestDiagnosticsCategory, LogLevel.None)
        .AddFilter("Microsoft.Hosting", LogLevel.Warning);

    /// <summary>The category of ASP.NET Core's per-request logs (<c>HostingApplicationDiagnostics</c>).</summary>
    internal const string RequestDiagnosticsCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    /// <summary>
    /// Sets a host up as an etcd frontend for <paramref name="options"/>: HTTP/2 listeners on the client URLs (h2c
    /// on http URLs, which also answer an HTTP/1.1 <c>GET /metrics</c>, see <see cref="Http1Metrics"/>; TLS on https
    /// URLs) and the etcd services. Call it after adding the Orleans silo or client, so
    /// that the frontend starts after and stops before it.
    /// </summary>
    public static WebApplicationBuilder AddEtcdFrontend(this WebApplicationBuilder builder, FrontendCommandLine options)
    {
        var tls = ClientTls.Load(options);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            foreach (var url in options.ListenClientUrls)
            {
                kestrel.Listen(url, HttpProtocols.Http2, "--listen-client-urls", url.Scheme == Uri.UriSchemeHttps ? tls : null, http1Metrics: url.Scheme == Uri.UriSchemeHttp);
            }
        });
        builder.Services.AddEtcdFrontend(options.ApplyTo);
        return builder;
    }

    /// <summary>Adds the etcd services; the host must provide an <c>IGrainFactory</c>.</summary>
    public static IServiceCollection AddEtcdFrontend(this IServiceCollection services, Action<EtcdFrontendOptions> configure)
    {
        var options = new EtcdFrontendOptions();
        configure(options);
        services.Configure(configure);
        services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = options.MaxMessageBytes;
            o.MaxSendMessageSize = int.MaxValue;
            o.IgnoreUnknownServices = true;
            o.Interceptors.Add<CallInterceptor>();
        });
        services.AddSingleton<CallInterceptor>();
        services.AddSingleton<FrontendMetrics>();
        services.AddGrpcHealthChecks().AddCheck<ClusterHealthCheck>("cluster");
        services.AddSingleton<StreamShutdown>();
        services.AddSingleton<GrainReferences>();
        services.AddSingleton<IServiceMethodProvider<WatchService>, WatchMethod>();
        services.AddSingleton<SequencerCalls>();
        services.AddSingleton<KvBackend>();
        services.AddSingleton<ResponseHeaders>();
        services.AddSingleton<WatchHub>();
        services.AddHostedService(provider => provider.GetRequiredService<WatchHub>());
        services.AddSingleton<FrontendMembership>();
        services.AddHostedService(provider => provider.GetRequiredService<FrontendMembership>());
        return services;
    }

    /// <summary>Maps KV, Watch, Lease, Maintenance, Cluster and grpc.health.v1; any other call is answered <see cref="UnknownCalls"/>.</summary>
    public static WebApplication MapEtcdFrontend(this WebApplication app)
    {
        app.UseUnknownCalls();
        app.MapGrpcService<KvService>();
        app.MapGrpcService<WatchService>();
        app.MapGrpcService<MaintenanceService>();
        app.MapGrpcService<ClusterService>();
        app.MapGrpcService<LeaseService>();
        app.MapGrpcHealthChecksService();
        return app;
    }

    /// <summary>
    /// Listens on <paramref name="url"/> (an IP address or localhost) with <paramref name="protocols"/>, over TLS
    /// with <paramref name="tls"/>; <paramref name="flag"/> names the URL in errors. With <paramref name="http1Metrics"/>
    /// an HTTP/1.1 GET is answered by <see cref="Http1Metrics"/>.
    /// </summary>
    internal static void Listen(this KestrelServerOptions kestrel, Uri url, HttpProtocols protocols, string flag, ClientTls? tls = null, bool http1Metrics = false)
    {
        void Configure(ListenOptions listen)
        {
            listen.Protocols = protocols;
            if (http1Metrics)
            {
                listen.Use(next => connection => Http1Metrics.ServeAsync(connection, next));
            }
            if (tls is not null)
            {
                listen.UseHttps(tls.Configure);
            }
        }
        if (url.Host == "localhost")
        {
            kestrel.ListenLocalhost(url.Port, Configure);
        }
        else if (IPAddress.TryParse(url.Host.Trim('[', ']'), out var address))
        {
            kestrel.Listen(address, url.Port, Configure);
        }
        else
        {
            throw new ArgumentException($"{flag}: '{url}' must name an IP address or localhost");
        }
    }
}

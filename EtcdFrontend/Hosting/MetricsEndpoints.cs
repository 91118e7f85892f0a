using System.Diagnostics.Metrics;
using KubeBrain.EtcdFrontend.Telemetry;
using KubeBrain.Grains.Interfaces;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace KubeBrain.EtcdFrontend.Hosting;

/// <summary>
/// The metrics listeners of <c>--listen-metrics-urls</c>: HTTP/1.1 on ports of their own, serving <c>GET /metrics</c>
/// in Prometheus's text format (the Orleans meter and KubeBrain's), etcd's <c>GET /health</c>, and whatever else is mapped
/// <see cref="OnMetricsPortsOnly{TBuilder}"/>. Such endpoints answer 404 on the client ports, where <c>GET /metrics</c>
/// answers the process series only. Without metrics URLs nothing more is set up and nothing more listens.
/// <para>
/// KubeBrain's instruments come from the host's meter factory; the ones another host in the same process created
/// (servers started by tests) are left out. The Orleans meter is one per process.
/// </para>
/// </summary>
public static class MetricsEndpoints
{
    /// <summary>The path Prometheus scrapes.</summary>
    public const string Path = "/metrics";

    /// <summary>
    /// etcd's health endpoint on the metrics URLs of a process that serves etcd: 200 with <c>{"health":"true"}</c>
    /// while the cluster answers, else 503.
    /// </summary>
    public const string HealthPath = "/health";

    /// <summary>The Orleans runtime's meter.</summary>
    public const string OrleansMeter = "Microsoft.Orleans";

    /// <summary>Adds the listeners and the metrics pipeline when <paramref name="options"/> name metrics URLs.</summary>
    /// <param name="builder">The host.</param>
    /// <param name="options">The command line.</param>
    /// <param name="service">The program, as the <c>service.name</c> of the exported resource.</param>
    public static WebApplicationBuilder AddMetricsListeners(this WebApplicationBuilder builder, FrontendCommandLine options, string service)
    {
        if (options.ListenMetricsUrls.Count == 0)
        {
            return builder;
        }
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            foreach (var url in options.ListenMetricsUrls)
            {
                kestrel.Listen(url, HttpProtocols.Http1, "--listen-metrics-urls");
            }
        });
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(service, serviceInstanceId: options.Name))
            .WithMetrics(metrics => metrics.AddMeter(OrleansMeter, KubeBrainMeter.Name).AddPrometheusExporter());
        builder.Services.ConfigureOpenTelemetryMeterProvider((services, metrics) =>
        {
            var own = services.GetRequiredService<IMeterFactory>();
            metrics.AddView(instrument => instrument.Meter.Scope is IMeterFactory scope && scope != own ? MetricStreamConfiguration.Drop : null);
        });
        return builder;
    }

    /// <summary>
    /// Maps <c>/metrics</c> on the metrics ports, and keeps every endpoint marked <see cref="OnMetricsPortsOnly{TBuilder}"/>
    /// off the other ports. A co-hosted frontend's store gauges are read before each scrape is answered. On the client
    /// ports, with or without metrics URLs, <c>GET /metrics</c> answers the process series only
    /// (<see cref="ProcessMetrics"/>), as etcd's client port does for <c>etcdctl check datascale</c>.
    /// </summary>
    public static WebApplication MapMetrics(this WebApplication app, FrontendCommandLine options)
    {
        var ports = options.ListenMetricsUrls.Select(u => u.Port).ToHashSet();
        app.Use((context, next) =>
            context.Request.Path == Path && HttpMethods.IsGet(context.Request.Method) && !ports.Contains(context.Connection.LocalPort)
                ? ProcessMetrics.WriteAsync(context)
                : next(context));
        if (options.ListenMetricsUrls.Count == 0)
        {
            return app;
        }
        app.Use(async (context, next) =>
        {
            if (context.GetEndpoint()?.Metadata.GetMetadata<MetricsPortsOnly>() is not null && !ports.Contains(context.Connection.LocalPort))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }
            await next(context);
        });
        var frontend = app.Services.GetService<FrontendMetrics>();
        app.MapPrometheusScrapingEndpoint(Path, meterProvider: null, configureBranchedPipeline: pipeline =>
        {
            if (frontend is not null)
            {
                pipeline.Use(async (context, next) =>
                {
                    await frontend.RefreshAsync();
                    await next(context);
                });
            }
        }, optionsName: null).OnMetricsPortsOnly();
        if (app.Services.GetService<HealthCheckService>() is { } health)
        {
            app.MapGet(HealthPath, async (HttpContext context) =>
            {
                var report = await health.CheckHealthAsync(context.RequestAborted);
                var healthy = report.Status == HealthStatus.Healthy;
                var reason = string.Join("; ", report.Entries.Values.Select(e => e.Description).OfType<string>());
                return Results.Json(new { health = healthy ? "true" : "false", reason }, statusCode: healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
            }).OnMetricsPortsOnly();
        }
        return app;
    }

    /// <summary>Serves the endpoints only on the metrics ports (<see cref="MapMetrics"/>); elsewhere they answer 404.</summary>
    public static TBuilder OnMetricsPortsOnly<TBuilder>(this TBuilder endpoints)
        where TBuilder : IEndpointConventionBuilder =>
        endpoints.WithMetadata(MetricsPortsOnly.Instance);

    private sealed class MetricsPortsOnly
    {
        public static readonly MetricsPortsOnly Instance = new();
    }
}

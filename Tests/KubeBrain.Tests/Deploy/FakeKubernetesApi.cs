using System.Collections.Concurrent;
using System.Net;
using KubeBrain.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace KubeBrain.Tests.Deploy;

/// <summary>
/// Just enough of a Kubernetes API server for <c>kubectl apply --dry-run=client</c>, which needs no cluster but
/// does ask one which resources exist (discovery) and whether each object already exists (it answers 404, so each
/// is "created"). It serves the real group, version, resource and kind of every kind the manifests use, so an
/// object of a kind the real API would not serve (a misspelt kind, a wrong apiVersion) fails as it would there.
/// </summary>
public sealed class FakeKubernetesApi : IAsyncDisposable
{
    /// <summary>The resources discovery lists: group/version, plural resource, kind, and whether it is namespaced.</summary>
    private static readonly (string GroupVersion, string Resource, string Kind, bool Namespaced)[] Resources =
    [
        ("v1", "namespaces", "Namespace", false),
        ("v1", "services", "Service", true),
        ("v1", "serviceaccounts", "ServiceAccount", true),
        ("v1", "secrets", "Secret", true),
        ("v1", "configmaps", "ConfigMap", true),
        ("v1", "persistentvolumeclaims", "PersistentVolumeClaim", true),
        ("v1", "pods", "Pod", true),
        ("apps/v1", "deployments", "Deployment", true),
        ("apps/v1", "statefulsets", "StatefulSet", true),
        ("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", true),
        ("rbac.authorization.k8s.io/v1", "roles", "Role", true),
        ("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", true),
        ("monitoring.coreos.com/v1", "servicemonitors", "ServiceMonitor", true),
        ("postgresql.cnpg.io/v1", "clusters", "Cluster", true),
    ];

    private static readonly string[] Verbs = ["create", "delete", "get", "list", "patch", "update", "watch"];

    private readonly WebApplication _app;

    private FakeKubernetesApi(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    /// <summary>The server URL, http://127.0.0.1:port.</summary>
    public string Url { get; }

    /// <summary>Every request, as "METHOD /path".</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public static async Task<FakeKubernetesApi> StartAsync()
    {
        var port = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        var api = new FakeKubernetesApi(app, $"http://127.0.0.1:{port}");
        app.Run(api.HandleAsync);
        await app.StartAsync();
        return api;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        Requests.Enqueue($"{context.Request.Method} {path}");
        var body = context.Request.Method == HttpMethods.Get ? Discovery(path) : null;
        if (body is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            body = new { kind = "Status", apiVersion = "v1", status = "Failure", reason = "NotFound", code = 404, message = $"{path} not found" };
        }
        await context.Response.WriteAsJsonAsync(body);
    }

    private static object? Discovery(string path)
    {
        if (path == "/api")
        {
            return new
            {
                kind = "APIVersions",
                versions = new[] { "v1" },
                serverAddressByClientCIDRs = new[] { new { clientCIDR = "0.0.0.0/0", serverAddress = "127.0.0.1" } },
            };
        }
        if (path == "/apis")
        {
            return new
            {
                kind = "APIGroupList",
                apiVersion = "v1",
                groups = Resources
                    .Select(r => r.GroupVersion)
                    .Where(gv => gv.Contains('/', StringComparison.Ordinal))
                    .Distinct()
                    .Select(gv =>
                    {
                        var version = new { groupVersion = gv, version = gv[(gv.IndexOf('/', StringComparison.Ordinal) + 1)..] };
                        return new { name = gv[..gv.IndexOf('/', StringComparison.Ordinal)], versions = new[] { version }, preferredVersion = version };
                    })
                    .ToArray(),
            };
        }
        var groupVersion = path == "/api/v1" ? "v1" : path.StartsWith("/apis/", StringComparison.Ordinal) ? path["/apis/".Length..] : null;
        var resources = Resources.Where(r => r.GroupVersion == groupVersion).ToArray();
        return resources.Length == 0
            ? null
            : new
            {
                kind = "APIResourceList",
                apiVersion = "v1",
                groupVersion,
                resources = resources.Select(r => new { name = r.Resource, singularName = "", namespaced = r.Namespaced, kind = r.Kind, verbs = Verbs }).ToArray(),
            };
    }
}

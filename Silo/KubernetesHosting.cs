using Orleans.Hosting.Kubernetes;

namespace KubeBrain.Silo;

/// <summary>
/// Orleans' Kubernetes hosting (Microsoft.Orleans.Hosting.Kubernetes) for a cluster silo that runs in a pod: the silo
/// is named after its pod and advertises the pod's IP, labels its pod with <c>orleans/serviceId</c> and
/// <c>orleans/clusterId</c>, and declares a silo dead as soon as its pod is deleted instead of waiting for the
/// membership protocol's failure detection. It supplements the AdoNet membership in PostgreSQL; it does not replace it.
/// </summary>
/// <remarks>
/// It is used only where it can work: on <c>--storage postgres</c> (the embedded stores are single nodes on localhost
/// clustering), inside a pod (<c>KUBERNETES_SERVICE_HOST</c>, which the kubelet sets in every container) whose
/// manifest gave it its name and namespace through the downward API (<c>POD_NAME</c>, <c>POD_NAMESPACE</c>), unless
/// <c>KUBEBRAIN_KUBERNETES_HOSTING=off</c>. Requiring the downward-API variables keeps a silo that merely happens to
/// run in some pod — a CI job's, say — on plain membership: there the hosting would call the Kubernetes API with
/// whatever service account the pod has, and the host fails to start without it.
/// </remarks>
public static class KubernetesHosting
{
    /// <summary>Set to <c>off</c> to keep a silo in a pod on plain membership; <c>auto</c> (or unset) decides as above.</summary>
    public const string ModeEnvironmentVariable = "KUBEBRAIN_KUBERNETES_HOSTING";

    /// <summary>Set by the kubelet in every container of a pod.</summary>
    public const string ServiceHostEnvironmentVariable = "KUBERNETES_SERVICE_HOST";

    /// <summary>Whether a silo with <paramref name="options"/> in <paramref name="environment"/> uses Kubernetes hosting.</summary>
    /// <exception cref="ArgumentException"><see cref="ModeEnvironmentVariable"/> is neither <c>auto</c> nor <c>off</c>.</exception>
    public static bool IsEnabled(ServerOptions options, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(environment);
        switch (environment(ModeEnvironmentVariable))
        {
            case null or "" or "auto":
                break;
            case "off":
                return false;
            case var mode:
                throw new ArgumentException($"{ModeEnvironmentVariable}: '{mode}' is not one of auto, off");
        }
        return options.Storage == StorageKind.Postgres
            && IsSet(environment, ServiceHostEnvironmentVariable)
            && IsSet(environment, KubernetesHostingOptions.PodNameEnvironmentVariable)
            && IsSet(environment, KubernetesHostingOptions.PodNamespaceEnvironmentVariable);
    }

    /// <summary>
    /// Adds the hosting, which reads the pod's name, namespace and IP from <c>POD_NAME</c>, <c>POD_NAMESPACE</c> and
    /// <c>POD_IP</c>. Call it after the silo name is configured, so that the pod's name wins: the hosting matches silos
    /// to pods by name, and a silo without a pod of its name is declared dead. Call it before the cluster identity is
    /// configured, so that the <c>--cluster-id</c> and <c>--service-id</c> flags win over <c>ORLEANS_CLUSTER_ID</c>
    /// and <c>ORLEANS_SERVICE_ID</c>.
    /// </summary>
    public static ISiloBuilder Use(ISiloBuilder silo) => silo.UseKubernetesHosting();

    private static bool IsSet(Func<string, string?> environment, string name) => !string.IsNullOrEmpty(environment(name));
}

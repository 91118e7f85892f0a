using KubeBrain.Silo;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Hosting.Kubernetes;
using Xunit;

namespace KubeBrain.Tests.Deploy;

/// <summary>
/// When the silo adds Orleans' Kubernetes hosting, decided from the environment variables a pod manifest sets, and
/// how it is ordered among the silo's own settings. The environment is passed in, never set on this process, and no
/// host is started, so no Kubernetes cluster is needed.
/// </summary>
public sealed class KubernetesHostingTests
{
    private const string Postgres = "Host=127.0.0.1;Port=5432;Username=kubebrain;Database=kubebrain";

    private static readonly Dictionary<string, string> Pod = new()
    {
        ["KUBERNETES_SERVICE_HOST"] = "10.96.0.1",
        ["POD_NAME"] = "kubebrain-silo-7d9f8-abcde",
        ["POD_NAMESPACE"] = "kubebrain",
        ["POD_IP"] = "10.244.1.7",
    };

    private static readonly ServerOptions ClusterSilo = new()
    {
        Storage = StorageKind.Postgres,
        PostgresConnectionString = Postgres,
        Frontend = false,
        Name = "flag-name",
        ClusterId = "flag-cluster",
        ServiceId = "flag-service",
    };

    [Fact]
    public void PostgresSiloInAPodWithTheDownwardApiVariablesUsesIt() =>
        Assert.True(KubernetesHosting.IsEnabled(ClusterSilo, Env(Pod)));

    [Theory]
    [InlineData("KUBERNETES_SERVICE_HOST")]
    [InlineData("POD_NAME")]
    [InlineData("POD_NAMESPACE")]
    public void WithoutAnyOfThePodVariablesItIsNotUsed(string missing) =>
        Assert.False(KubernetesHosting.IsEnabled(ClusterSilo, Env(Pod.Where(e => e.Key != missing))));

    [Fact]
    public void OutsideKubernetesItIsNotUsed() =>
        Assert.False(KubernetesHosting.IsEnabled(ClusterSilo, Env([])));

    [Theory]
    [InlineData(StorageKind.Sqlite)]
    [InlineData(StorageKind.Memory)]
    public void SingleNodeStoresDoNotUseItEvenInAPod(StorageKind storage) =>
        Assert.False(KubernetesHosting.IsEnabled(ClusterSilo with { Storage = storage }, Env(Pod)));

    [Fact]
    public void ItCanBeTurnedOff()
    {
        Assert.False(KubernetesHosting.IsEnabled(ClusterSilo, Env(Pod.Append(new("KUBEBRAIN_KUBERNETES_HOSTING", "off")))));
        Assert.True(KubernetesHosting.IsEnabled(ClusterSilo, Env(Pod.Append(new("KUBEBRAIN_KUBERNETES_HOSTING", "auto")))));
    }

    [Fact]
    public void AnUnknownModeIsNamed()
    {
        var e = Assert.Throws<ArgumentException>(() => KubernetesHosting.IsEnabled(ClusterSilo, Env(Pod.Append(new("KUBEBRAIN_KUBERNETES_HOSTING", "yes")))));
        Assert.Equal("KUBEBRAIN_KUBERNETES_HOSTING: 'yes' is not one of auto, off", e.Message);
    }

    [Fact]
    public async Task TheServerAddsTheClusterAgentOnlyInAPod()
    {
        Assert.True(await HasClusterAgentAsync(Env(Pod)));
        Assert.False(await HasClusterAgentAsync(Env([])));
    }

    /// <summary>
    /// The hosting names the silo after its pod (it matches silos to pods by name and declares a silo without a pod of
    /// its name dead), so it must come after <c>--name</c>; the cluster identity stays the flags'.
    /// </summary>
    [Fact]
    public async Task ThePodNameWinsOverNameAndTheFlagsWinOverTheOrleansVariables()
    {
        var app = KubeBrainServer.Build(ClusterSilo, environment: Env(Pod));
        await using var _ = app;
        var configures = app.Services.GetServices<IConfigureOptions<SiloOptions>>().ToList();
        var kubernetes = configures.FindIndex(IsKubernetesHosting);
        var name = configures.FindLastIndex(c =>
        {
            if (IsKubernetesHosting(c))
            {
                return false;
            }
            var silo = new SiloOptions();
            c.Configure(silo);
            return silo.SiloName == ClusterSilo.Name;
        });
        Assert.True(name >= 0, "no configuration sets the silo name from --name");
        Assert.True(kubernetes > name, $"the Kubernetes hosting's silo name (at {kubernetes}) must come after --name's (at {name})");

        var cluster = app.Services.GetRequiredService<IOptions<ClusterOptions>>().Value;
        Assert.Equal("flag-cluster", cluster.ClusterId);
        Assert.Equal("flag-service", cluster.ServiceId);
    }

    private static bool IsKubernetesHosting(IConfigureOptions<SiloOptions> configure) =>
        configure.GetType().Assembly == typeof(KubernetesHostingOptions).Assembly;

    private static async Task<bool> HasClusterAgentAsync(Func<string, string?> environment)
    {
        IServiceCollection? services = null;
        var app = KubeBrainServer.Build(ClusterSilo, customize: b => services = b.Services, environment: environment);
        await using var _ = app;
        return services!.Any(d => !d.IsKeyedService && d.ImplementationType == typeof(KubernetesClusterAgent));
    }

    private static Func<string, string?> Env(IEnumerable<KeyValuePair<string, string>> variables)
    {
        var map = variables.ToDictionary();
        return name => map.GetValueOrDefault(name);
    }
}

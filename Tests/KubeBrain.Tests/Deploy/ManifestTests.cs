using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using KubeBrain.EtcdFrontend.Hosting;
using KubeBrain.Silo;
using KubeBrain.Tests.Infrastructure;
using Npgsql;
using Xunit;
using Xunit.Abstractions;

namespace KubeBrain.Tests.Deploy;

/// <summary>
/// The Kubernetes manifests (deploy/k8s): each overlay renders with kubectl's kustomize, a client-side dry run applies
/// the result, and the applied objects hold what running KubeBrain depends on.
/// </summary>
public sealed partial class ManifestTests(Kubectl kubectl, ITestOutputHelper output) : IClassFixture<Kubectl>
{
    public static TheoryData<string> Overlays => ["trial", "production"];

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task OverlayRendersAndAppliesWithAClientDryRun(string overlay)
    {
        if (!kubectl.IsAvailable(output))
        {
            return;
        }
        var rendered = await kubectl.RenderAsync(overlay);
        var documents = TopLevelKind().Count(rendered.Yaml);
        Assert.Equal(documents, rendered.Objects.Count);
        foreach (var o in rendered.Objects)
        {
            Assert.Equal("kubebrain", Namespace(o) ?? "kubebrain");
            var name = Name(o);
            Assert.Contains(kubectl.ApiRequests, r => r.StartsWith("GET ", StringComparison.Ordinal) && r.EndsWith("/" + name, StringComparison.Ordinal));
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task TheFrontendServiceServesEtcdOn2379(string overlay)
    {
        if (!kubectl.IsAvailable(output))
        {
            return;
        }
        var objects = (await kubectl.RenderAsync(overlay)).Objects;
        var service = Single(objects, "Service", "kubebrain-frontend");
        var frontend = Single(objects, "Deployment", "kubebrain-frontend");
        Assert.Equal("ClusterIP", service["spec"]?["type"]?.GetValue<string>() ?? "ClusterIP");
        var client = Array(service["spec"]!["ports"]).Single(p => Int(p["port"]) == 2379);
        Assert.Equal(2379, ContainerPort(frontend, client["targetPort"]!));
        Assert.True(Selects(service["spec"]!["selector"]!.AsObject(), frontend), "the Service's selector does not select the frontend pods");
        Assert.Contains(Args(frontend), a => a.StartsWith("--listen-client-urls=", StringComparison.Ordinal) && a.EndsWith("://0.0.0.0:2379", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task EveryContainerHasReadinessAndLivenessProbes(string overlay)
    {
        if (!kubectl.IsAvailable(output))
        {
            return;
        }
        var objects = (await kubectl.RenderAsync(overlay)).Objects;
        foreach (var workload in objects.Where(o => Kind(o) is "Deployment" or "StatefulSet"))
        {
            var container = Container(workload);
            Assert.NotNull(container["readinessProbe"]);
            Assert.NotNull(container["livenessProbe"]);
        }
        var frontend = Single(objects, "Deployment", "kubebrain-frontend");
        foreach (var probe in new[] { "startupProbe", "readinessProbe", "livenessProbe" }.Select(p => Container(frontend)[p]!))
        {
            // Plaintext: the kubelet's gRPC probe against grpc.health.v1; TLS: a TCP probe (the gRPC probe speaks
            // plaintext only).
            if (overlay == "trial")
            {
                Assert.Equal(2379, Int(probe["grpc"]!["port"]));
                Assert.Null(probe["tcpSocket"]);
            }
            else
            {
                Assert.Equal(2379, ContainerPort(frontend, probe["tcpSocket"]!["port"]!));
                Assert.Null(probe["grpc"]);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task SilosGetThePodFromTheDownwardApiAndTheOrleansLabels(string overlay)
    {
        if (!kubectl.IsAvailable(output))
        {
            return;
        }
        var objects = (await kubectl.RenderAsync(overlay)).Objects;
        var silo = Single(objects, "Deployment", "kubebrain-silo");
        var env = Array(Container(silo)["env"]);
        foreach (var (variable, field) in new[] { ("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace"), ("POD_IP", "status.podIP") })
        {
            var entry = env.Single(e => e["name"]!.GetValue<string>() == variable);
            Assert.Equal(field, entry["valueFrom"]!["fieldRef"]!["fieldPath"]!.GetValue<string>());
        }
        var args = Args(silo);
        Assert.Contains("--storage=postgres", args);
        Assert.Contains("--frontend=off", args);
        Assert.Contains("--name=$(POD_NAME)", args);
        var labels = silo["spec"]!["template"]!["metadata"]!["labels"]!;
        Assert.Equal(Flag(args, "--service-id"), labels["orleans/serviceId"]!.GetValue<string>());
        Assert.Equal(Flag(args, "--cluster-id"), labels["orleans/clusterId"]!.GetValue<string>());

        // The frontends are Orleans clients: the silos' Kubernetes hosting must not take their pods for silos.
        var frontend = Single(objects, "Deployment", "kubebrain-frontend");
        Assert.Null(frontend["spec"]!["template"]!["metadata"]!["labels"]!["orleans/serviceId"]);
        Assert.Equal(Flag(args, "--cluster-id"), Flag(Args(frontend), "--cluster-id"));
        Assert.Equal(Flag(args, "--service-id"), Flag(Args(frontend), "--service-id"));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task TheSilosServiceAccountMayGetListWatchAndPatchPods(string overlay)
    {
        if (!kubectl.IsAvailable(output))
        {
            return;
        }
        var objects = (await kubectl.RenderAsync(overlay)).Objects;
        var silo = Single(objects, "Deployment", "kubebrain-silo");
        var account = silo["spec"]!["template"]!["spec"]!["serviceAccountName"]!.GetValue<string>();
        Single(objects, "ServiceAccount", account);
        var binding = objects.Single(o => Kind(o) == "RoleBinding" && Array(o["subjects"]).Any(s =>
            s["kind"]!.GetValue<string>() == "ServiceAccount" && s["name"]!.GetValue<string>() == account && s["namespace"]?.GetValue<string>() == Namespace(silo)));
        Assert.Equal("Role", binding["roleRef"]!["kind"]!.GetValue<string>());
        var role = Single(objects, "Role", binding["roleRef"]!["name"]!.GetValue<string>());
        var pods = Array(role["rules"]).Single(r => Strings(r["resources"]).Contains("pods"));
        Assert.Equal([""], Strings(pods["apiGroups"]));
        Assert.Equal(["get", "list", "patch", "watch"], Strings(pods["verbs"]).Order());

        // A frontend never calls the Kubernetes API.
        var frontend = Single(objects, "Deployment", "kubebrain-frontend");
        var frontendAccount = Single(objects, "ServiceAccount", frontend["spec"]!["template"]!["spec"]!["serviceAccountName"]!.GetValue<string>());
        Assert.False(frontendAccount["automountServiceAccountToken"]!.GetValue<bool>());
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task SilosAndFrontendsHaveDisruptionBudgets(string overlay)
    {
        if (!kubectl.IsAvailable(output))
        {
            return;
        }
        var objects = (await kubectl.RenderAsync(overlay)).Objects;
        foreach (var name in new[] { "kubebrain-silo", "kubebrain-frontend" })
        {
            var workload = Single(objects, "Deployment", name);
            var budget = objects.Single(o => Kind(o) == "PodDisruptionBudget" && Selects(o["spec"]!["selector"]!["matchLabels"]!.AsObject(), workload));
            Assert.Equal("policy/v1", budget["apiVersion"]!.GetValue<string>());
            Assert.Equal(1, Int(budget["spec"]!["maxUnavailable"]));
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task TheServiceMonitorScrapesTheMetricsPortOfSilosAndFrontends(string overlay)
    {
        if (!kubectl.IsAvailable(output))
        {
            return;
        }
        var objects = (await kubectl.RenderAsync(overlay)).Objects;
        var monitor = objects.Single(o => Kind(o) == "ServiceMonitor");
        Assert.Equal("monitoring.coreos.com/v1", monitor["apiVersion"]!.GetValue<string>());
        var endpoint = Array(monitor["spec"]!["endpoints"]).Single();
        Assert.Equal("metrics", endpoint["port"]!.GetValue<string>());
        Assert.Equal("/metrics", endpoint["path"]!.GetValue<string>());
        var selector = monitor["spec"]!["selector"]!["matchLabels"]!.AsObject();
        foreach (var name in new[] { "kubebrain-silo", "kubebrain-frontend" })
        {
            var workload = Single(objects, "Deployment", name);
            var service = objects.Single(o => Kind(o) == "Service" && Matches(selector, o["metadata"]!["labels"]) && Selects(o["spec"]!["selector"]!.AsObject(), workload));
            var port = Array(service["spec"]!["ports"]).Single(p => p["name"]!.GetValue<string>() == "metrics");
            var metricsUrl = Flag(Args(workload), "--listen-metrics-urls");
            Assert.Equal(new Uri(metricsUrl).Port, ContainerPort(workload, port["targetPort"]!));
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task ImagesAreThePlaceholdersSetThroughKustomize(string overlay)
    {
        if (!kubectl.IsAvailable(output))
        {
            return;
        }
        var objects = (await kubectl.RenderAsync(overlay)).Objects;
        Assert.Equal("kubebrain:latest", Container(Single(objects, "Deployment", "kubebrain-silo"))["image"]!.GetValue<string>());
        Assert.Equal("kubebrain-frontend:latest", Container(Single(objects, "Deployment", "kubebrain-frontend"))["image"]!.GetValue<string>());
    }

    [Fact]
    public async Task TheTrialRunsPostgres15OnAVolumeAndServesPlaintext()
    {
        if (!kubectl.IsAvailable(output))
        {
            return;
        }
        var objects = (await kubectl.RenderAsync("trial")).Objects;
        var postgres = objects.Single(o => Kind(o) == "StatefulSet");
        Assert.Equal("postgres:15", Container(postgres)["image"]!.GetValue<string>());
        var claim = Array(postgres["spec"]!["volumeClaimTemplates"]).Single();
        Assert.Contains(Array(Container(postgres)["volumeMounts"]), m => m["name"]!.GetValue<string>() == claim["metadata"]!["name"]!.GetValue<string>());
        var service = objects.Single(o => Kind(o) == "Service" && Selects(o["spec"]!["selector"]!.AsObject(), postgres));
        Assert.Contains(Array(service["spec"]!["ports"]), p => Int(p["port"]) == 5432);

        // KubeBrain's connection string names that Service and the password the database was initialized with.
        foreach (var name in new[] { "kubebrain-silo", "kubebrain-frontend" })
        {
            var connection = new NpgsqlConnectionStringBuilder(SecretValue(objects, Env(Single(objects, "Deployment", name), "KUBEBRAIN_POSTGRES")));
            Assert.Equal(Name(service), connection.Host);
            Assert.Equal(5432, connection.Port);
            Assert.Equal(SecretValue(objects, Env(postgres, "POSTGRES_PASSWORD")), connection.Password);
            Assert.Equal(Env(postgres, "POSTGRES_USER")["value"]!.GetValue<string>(), connection.Username);
            Assert.Equal(Env(postgres, "POSTGRES_DB")["value"]!.GetValue<string>(), connection.Database);
        }

        var frontend = Single(objects, "Deployment", "kubebrain-frontend");
        Assert.All(Args(frontend), a => Assert.DoesNotContain("https://", a, StringComparison.Ordinal));
        Assert.DoesNotContain(Args(frontend), a => a.StartsWith("--cert-file", StringComparison.Ordinal));
        Assert.DoesNotContain(Array(frontend["spec"]!["template"]!["spec"]!["volumes"]), v => v["secret"] is not null);
    }

    [Fact]
    public async Task ProductionServesTlsWithClientCertificates()
    {
        if (!kubectl.IsAvailable(output))
        {
            return;
        }
        var objects = (await kubectl.RenderAsync("production")).Objects;
        var frontend = Single(objects, "Deployment", "kubebrain-frontend");
        var args = Args(frontend);
        Assert.StartsWith("https://", Flag(args, "--listen-client-urls"), StringComparison.Ordinal);
        Assert.Equal("https://kubebrain-frontend.$(POD_NAMESPACE).svc:2379", Flag(args, "--advertise-client-urls"));
        Assert.Equal("true", Flag(args, "--client-cert-auth"));
        var volume = Array(frontend["spec"]!["template"]!["spec"]!["volumes"]).Single(v => v["secret"]?["secretName"]?.GetValue<string>() == "kubebrain-frontend-tls");
        var mount = Array(Container(frontend)["volumeMounts"]).Single(m => m["name"]!.GetValue<string>() == volume["name"]!.GetValue<string>());
        var directory = mount["mountPath"]!.GetValue<string>();
        Assert.Equal($"{directory}/tls.crt", Flag(args, "--cert-file"));
        Assert.Equal($"{directory}/tls.key", Flag(args, "--key-file"));
        Assert.Equal($"{directory}/ca.crt", Flag(args, "--trusted-ca-file"));

        // No key material is committed: the certificate Secret is made in the cluster, never rendered.
        Assert.DoesNotContain(objects, o => Kind(o) == "Secret");
    }

    [Fact]
    public async Task ProductionComposesTheConnectionStringFromTheCloudNativePgSecret()
    {
        if (!kubectl.IsAvailable(output))
        {
            return;
        }
        var objects = (await kubectl.RenderAsync("production")).Objects;
        var cluster = Single(objects, "Cluster", "kubebrain-db");
        Assert.Equal("postgresql.cnpg.io/v1", cluster["apiVersion"]!.GetValue<string>());
        var database = cluster["spec"]!["bootstrap"]!["initdb"]!["database"]!.GetValue<string>();
        var appSecret = $"{Name(cluster)}-app";
        var caSecret = $"{Name(cluster)}-ca";
        var sample = new Dictionary<string, string>
        {
            ["host"] = $"{Name(cluster)}-rw",
            ["port"] = "5432",
            ["dbname"] = database,
            ["username"] = "kubebrain",
            ["password"] = "p;a's\\s",
        };
        foreach (var name in new[] { "kubebrain-silo", "kubebrain-frontend" })
        {
            var workload = Single(objects, "Deployment", name);
            var env = Array(Container(workload)["env"]);
            var template = Env(workload, "KUBEBRAIN_POSTGRES")["value"]!.GetValue<string>();

            // Kubernetes expands $(NAME) from the variables before it in the list, each from a key of the app Secret.
            var expanded = new StringBuilder(template);
            var position = env.FindIndex(e => e["name"]!.GetValue<string>() == "KUBEBRAIN_POSTGRES");
            foreach (Match reference in VariableReference().Matches(template))
            {
                var variable = reference.Groups[1].Value;
                var index = env.FindIndex(e => e["name"]!.GetValue<string>() == variable);
                Assert.InRange(index, 0, position - 1);
                var key = env[index]["valueFrom"]!["secretKeyRef"]!;
                Assert.Equal(appSecret, key["name"]!.GetValue<string>());
                expanded.Replace(reference.Value, sample[key["key"]!.GetValue<string>()]);
            }

            var connection = new NpgsqlConnectionStringBuilder(expanded.ToString());
            Assert.Equal(sample["host"], connection.Host);
            Assert.Equal(5432, connection.Port);
            Assert.Equal(database, connection.Database);
            Assert.Equal(sample["password"], connection.Password);
            Assert.Equal(SslMode.VerifyFull, connection.SslMode);

            // The root certificate is the cluster CA's ca.crt, mounted where the connection string points.
            var volume = Array(workload["spec"]!["template"]!["spec"]!["volumes"]).Single(v => v["secret"]?["secretName"]?.GetValue<string>() == caSecret);
            Assert.Equal(["ca.crt"], Array(volume["secret"]!["items"]).Select(i => i["key"]!.GetValue<string>()));
            var mount = Array(Container(workload)["volumeMounts"]).Single(m => m["name"]!.GetValue<string>() == volume["name"]!.GetValue<string>());
            Assert.Equal($"{mount["mountPath"]!.GetValue<string>()}/ca.crt", connection.RootCertificate);
        }
    }

    /// <summary>
    /// The flags the manifests pass that this build may not know yet, because another change adds them; each is
    /// checked as soon as the program's usage lists it.
    /// </summary>
    private static readonly string[] PendingFlags = ["--listen-metrics-urls", "--enable-dashboard"];

    /// <summary>
    /// The programs' own command-line parsers accept the arguments the manifests give them, with the downward-API
    /// variables expanded, the TLS files of real (throwaway) certificates and the overlay's connection string.
    /// </summary>
    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task TheProgramsAcceptTheManifestsArguments(string overlay)
    {
        if (!kubectl.IsAvailable(output))
        {
            return;
        }
        var objects = (await kubectl.RenderAsync(overlay)).Objects;
        using var pki = new TestPki();
        var ca = pki.Authority("clients");
        var server = pki.Authority("servers").IssueServer("kubebrain-frontend");

        var silo = Single(objects, "Deployment", "kubebrain-silo");
        var siloOptions = await ParseAsync<ServerOptions>(silo, "kubebrain", ServerOptions.Usage, new ServerOptions(), objects, overlay, _ => null);
        Assert.Equal(StorageKind.Postgres, siloOptions.Storage);
        Assert.False(siloOptions.Frontend);
        Assert.Equal("pod-kubebrain-silo", siloOptions.Name);
        Assert.Equal(ContainerPort(silo, JsonValue.Create("silo")), siloOptions.SiloPort);
        Assert.Equal(ContainerPort(silo, JsonValue.Create("gateway")), siloOptions.GatewayPort);

        var frontend = Single(objects, "Deployment", "kubebrain-frontend");
        var tlsFiles = new Dictionary<string, string> { ["tls.crt"] = server.CertFile, ["tls.key"] = server.KeyFile, ["ca.crt"] = ca.CertFile };
        var frontendOptions = await ParseAsync<FrontendProcessOptions>(
            frontend, "kubebrain-frontend", FrontendProcessOptions.Usage, new FrontendProcessOptions(), objects, overlay, file => tlsFiles.GetValueOrDefault(file));
        Assert.Equal("pod-kubebrain-frontend", frontendOptions.Name);
        Assert.Equal([2379], frontendOptions.ListenClientUrls.Select(u => u.Port));
        Assert.Equal(siloOptions.ClusterId, frontendOptions.ClusterId);
        Assert.Equal(siloOptions.ServiceId, frontendOptions.ServiceId);
        Assert.Equal(overlay == "production" ? "https" : "http", frontendOptions.ListenClientUrls[0].Scheme);
    }

    /// <summary>
    /// Runs <paramref name="program"/>'s parser on the workload's arguments: <c>$(VAR)</c> expanded as the kubelet
    /// would from the downward API, a file under a mounted Secret replaced by <paramref name="secretFile"/>'s stand-in,
    /// and the connection string the pod gets in <c>KUBEBRAIN_POSTGRES</c> passed as the flag.
    /// </summary>
    private async Task<T> ParseAsync<T>(
        JsonObject workload, string program, string usage, T defaults, IReadOnlyList<JsonObject> objects, string overlay, Func<string, string?> secretFile)
        where T : FrontendCommandLine
    {
        var pod = new Dictionary<string, string> { ["POD_NAME"] = $"pod-{Name(workload)}", ["POD_NAMESPACE"] = "kubebrain", ["POD_IP"] = "10.244.0.7" };
        var mounts = Array(Container(workload)["volumeMounts"]).Select(m => m["mountPath"]!.GetValue<string>()).ToList();
        var args = new List<string>();
        foreach (var arg in Args(workload))
        {
            var flag = arg.Split('=')[0];
            if (PendingFlags.Contains(flag) && !usage.Contains(flag, StringComparison.Ordinal))
            {
                output.WriteLine($"{program}: {flag} is not in this build's usage yet; not checked");
                continue;
            }
            var expanded = VariableReference().Replace(arg, m => pod[m.Groups[1].Value]);
            var eq = expanded.IndexOf('=', StringComparison.Ordinal);
            var value = eq < 0 ? "" : expanded[(eq + 1)..];
            if (mounts.Any(m => value.StartsWith(m + "/", StringComparison.Ordinal)))
            {
                var standIn = secretFile(Path.GetFileName(value));
                Assert.True(standIn is not null, $"{program}: no stand-in for {value}");
                expanded = $"{flag}={standIn}";
            }
            args.Add(expanded);
        }
        args.Add($"--postgres-connection-string={ConnectionString(workload, objects, overlay)}");
        T? parsed = null;
        var status = await FrontendCommandLine.RunAsync(args, program, usage, defaults, o =>
        {
            parsed = o;
            return Task.CompletedTask;
        });
        Assert.True(status == 0 && parsed is not null, $"{program} refused {string.Join(' ', args)} (its message is on stderr)");
        return parsed;
    }

    /// <summary>What the pod's <c>KUBEBRAIN_POSTGRES</c> holds: the trial's Secret, or production's composition from sample values.</summary>
    private static string ConnectionString(JsonObject workload, IReadOnlyList<JsonObject> objects, string overlay)
    {
        var entry = Env(workload, "KUBEBRAIN_POSTGRES");
        if (overlay == "trial")
        {
            return SecretValue(objects, entry);
        }
        var sample = new Dictionary<string, string> { ["host"] = "kubebrain-db-rw", ["port"] = "5432", ["dbname"] = "kubebrain", ["username"] = "kubebrain", ["password"] = "secret" };
        return VariableReference().Replace(entry["value"]!.GetValue<string>(), m => sample[Env(workload, m.Groups[1].Value)["valueFrom"]!["secretKeyRef"]!["key"]!.GetValue<string>()]);
    }

    [GeneratedRegex(@"^kind: ", RegexOptions.Multiline)]
    private static partial Regex TopLevelKind();

    [GeneratedRegex(@"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")]
    private static partial Regex VariableReference();

    private static string Kind(JsonObject o) => o["kind"]!.GetValue<string>();

    private static string Name(JsonObject o) => o["metadata"]!["name"]!.GetValue<string>();

    private static string? Namespace(JsonObject o) => o["metadata"]!["namespace"]?.GetValue<string>();

    private static JsonObject Single(IReadOnlyList<JsonObject> objects, string kind, string name) =>
        objects.Single(o => Kind(o) == kind && Name(o) == name);

    private static List<JsonNode> Array(JsonNode? node) => node is null ? [] : [.. node.AsArray().Select(n => n!)];

    private static List<string> Strings(JsonNode? node) => [.. Array(node).Select(n => n.GetValue<string>())];

    private static int Int(JsonNode? node) => node!.GetValue<int>();

    private static JsonNode Container(JsonObject workload) => Array(workload["spec"]!["template"]!["spec"]!["containers"]).Single();

    private static List<string> Args(JsonObject workload) => Strings(Container(workload)["args"]);

    /// <summary>The value of <c>--flag=value</c> in <paramref name="args"/>.</summary>
    private static string Flag(List<string> args, string flag) =>
        args.Single(a => a.StartsWith(flag + "=", StringComparison.Ordinal))[(flag.Length + 1)..];

    private static JsonNode Env(JsonObject workload, string name) =>
        Array(Container(workload)["env"]).Single(e => e["name"]!.GetValue<string>() == name);

    /// <summary>The value of the Secret key an env entry's secretKeyRef names; the Secret must be among the objects.</summary>
    private static string SecretValue(IReadOnlyList<JsonObject> objects, JsonNode env)
    {
        var reference = env["valueFrom"]!["secretKeyRef"]!;
        var secret = Single(objects, "Secret", reference["name"]!.GetValue<string>());
        return Encoding.UTF8.GetString(Convert.FromBase64String(secret["data"]![reference["key"]!.GetValue<string>()]!.GetValue<string>()));
    }

    /// <summary>A container port by number or by name.</summary>
    private static int ContainerPort(JsonObject workload, JsonNode port) =>
        port.GetValueKind() == System.Text.Json.JsonValueKind.Number
            ? port.GetValue<int>()
            : Int(Array(Container(workload)["ports"]).Single(p => p["name"]!.GetValue<string>() == port.GetValue<string>())["containerPort"]);

    /// <summary>Whether a label selector selects the workload's pods.</summary>
    private static bool Selects(JsonObject selector, JsonObject workload) =>
        Matches(selector, workload["spec"]!["template"]!["metadata"]!["labels"]);

    private static bool Matches(JsonObject selector, JsonNode? labels) =>
        selector.Count > 0 && selector.All(s => labels?[s.Key]?.GetValue<string>() == s.Value!.GetValue<string>());
}

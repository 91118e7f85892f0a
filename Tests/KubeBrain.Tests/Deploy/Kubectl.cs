using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using KubeBrain.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KubeBrain.Tests.Deploy;

/// <summary>What one overlay renders to: the YAML of <c>kubectl kustomize</c> and the objects a client dry run applies.</summary>
public sealed record RenderedOverlay(string Yaml, IReadOnlyList<JsonObject> Objects);

/// <summary>
/// kubectl, run the way the manifests' users run it, against a <see cref="FakeKubernetesApi"/> through a kubeconfig of
/// its own (in a temporary directory that is also its HOME and cache), so that no real cluster or credential is ever
/// touched. Shared by a test class; each overlay is rendered and applied once.
/// </summary>
public sealed class Kubectl : IAsyncLifetime
{
    /// <summary>Where the kustomize overlays live, relative to the repository root.</summary>
    public const string OverlaysDirectory = "deploy/k8s/overlays";

    private readonly ConcurrentDictionary<string, Lazy<Task<RenderedOverlay>>> _overlays = new();
    private FakeKubernetesApi? _api;
    private string? _home;

    /// <summary>kubectl's path; null when it is not installed.</summary>
    public string? Path { get; } = Tools.Find("kubectl");

    /// <summary>The repository root: the nearest directory above the test assembly that holds KubeBrain.slnx.</summary>
    public static string RepositoryRoot
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(System.IO.Path.Combine(directory.FullName, "KubeBrain.slnx")))
            {
                directory = directory.Parent;
            }
            return directory?.FullName ?? throw new InvalidOperationException($"no KubeBrain.slnx above {AppContext.BaseDirectory}");
        }
    }

    /// <summary>The fake API server's requests, as "METHOD /path".</summary>
    public IReadOnlyCollection<string> ApiRequests => _api?.Requests ?? [];

    /// <summary>
    /// Whether kubectl is here to test with. Without it a test has nothing to run and passes, saying so, except in CI
    /// (<c>CI=true</c>), where the manifests must be checked and its absence fails the test.
    /// </summary>
    public bool IsAvailable(ITestOutputHelper output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (Path is not null)
        {
            return true;
        }
        const string Missing = "kubectl is not on the PATH; the manifest tests need kubectl 1.27 or newer (its built-in kustomize)";
        if (Environment.GetEnvironmentVariable("CI") == "true")
        {
            Assert.Fail(Missing);
        }
        output.WriteLine(Missing + ": not checked");
        return false;
    }

    public async Task InitializeAsync()
    {
        if (Path is null)
        {
            return;
        }
        _api = await FakeKubernetesApi.StartAsync();
        _home = Directory.CreateTempSubdirectory("kubebrain-kubectl-").FullName;
        await File.WriteAllTextAsync(Kubeconfig, $$"""
            apiVersion: v1
            kind: Config
            clusters:
              - name: fake
                cluster:
                  server: {{_api.Url}}
            users:
              - name: fake
                user: {}
            contexts:
              - name: fake
                context:
                  cluster: fake
                  user: fake
                  namespace: default
            current-context: fake
            """);
    }

    public async Task DisposeAsync()
    {
        if (_api is not null)
        {
            await _api.DisposeAsync();
        }
        if (_home is not null)
        {
            Directory.Delete(_home, recursive: true);
        }
    }

    /// <summary>
    /// <c>kubectl kustomize deploy/k8s/overlays/&lt;overlay&gt;</c>, then <c>kubectl apply --dry-run=client
    /// --validate=false -o json -f -</c> on its output; each must succeed.
    /// </summary>
    public Task<RenderedOverlay> RenderAsync(string overlay) =>
        _overlays.GetOrAdd(overlay, o => new Lazy<Task<RenderedOverlay>>(() => RenderAndApplyAsync(o))).Value;

    private string Kubeconfig => System.IO.Path.Combine(_home!, "kubeconfig");

    private async Task<RenderedOverlay> RenderAndApplyAsync(string overlay)
    {
        var directory = System.IO.Path.Combine(RepositoryRoot, OverlaysDirectory, overlay);
        var yaml = await RunAsync(null, "kustomize", directory);
        var applied = await RunAsync(yaml, "apply", "--dry-run=client", "--validate=false", "-o", "json", "-f", "-");
        var list = JsonNode.Parse(applied)!.AsObject();
        var objects = list["kind"]!.GetValue<string>() == "List"
            ? list["items"]!.AsArray().Select(item => item!.AsObject()).ToList()
            : [list];
        return new RenderedOverlay(yaml, objects);
    }

    private async Task<string> RunAsync(string? input, params string[] args)
    {
        var start = new ProcessStartInfo(Path!)
        {
            RedirectStandardInput = input is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        start.ArgumentList.Add($"--kubeconfig={Kubeconfig}");
        start.ArgumentList.Add($"--cache-dir={System.IO.Path.Combine(_home!, "cache")}");
        start.Environment.Remove("KUBECONFIG");
        start.Environment["HOME"] = _home;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
        }
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        var output = await stdout;
        Assert.True(process.ExitCode == 0, $"kubectl {string.Join(' ', args)} exited with {process.ExitCode}:\n{await stderr}");
        return output;
    }
}

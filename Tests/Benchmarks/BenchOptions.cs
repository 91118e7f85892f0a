using System.Globalization;

namespace KubeBrain.Benchmarks;

/// <summary>One named set of endpoints a run drives, e.g. <c>kubebrain=http://127.0.0.1:2379</c>.</summary>
public sealed record Target(string Name, IReadOnlyList<string> Endpoints);

/// <summary>The command line: a workload and its flags, etcd's benchmark names where they mean the same.</summary>
public sealed class BenchOptions
{
    public const string Usage = """
        kubebrain-bench: drives any etcd v3 endpoint and reports throughput and latency.

        usage: kubebrain-bench <workload> [flags]

        etcd's workloads:
          put              --total --key-size --val-size --key-space-size --sequential-keys
          range [KEY [END]] --total --consistency l|s (without KEY: the run's key prefix)
          txn-put          --total --key-size --val-size --key-space-size --txn-ops
          watch            --streams --watch-per-stream --put-total --put-rate (events/s)
          watch-latency    --streams --watchers-per-stream --put-total --put-rate
          lease-keepalive  --total
        Kubernetes-shaped workloads, on /registry/<resource>/<namespace>/<name> with 1-4 KiB values:
          k8s-create       --total (create if absent: txn mod_revision == 0 -> put)
          k8s-load         --total --start (0) --per-namespace (1000) --val-size (1024) (puts /registry/pods/ns-N/pod-M, fixed names)
          k8s-update       --total --objects (GuaranteedUpdate: txn mod_revision == seen -> put, else range)
          k8s-delete       --total (conditional delete of --total objects)
          k8s-list         --objects (10000) --limit (500) --total (lists) --count-only --pages (at most, per list)
                           --prefix P (list the keys under P instead of seeding objects)
          k8s-list-watch   --objects --put-total --put-rate (LIST, then WATCH from its revision while writes happen)
          k8s-heartbeats   --leases (5000) --interval (10s) --duration (30s) (Lease objects renewed like node heartbeats)

        common flags:
          --endpoints URL[,URL...]  (default http://127.0.0.1:2379; clients spread over them)
          --conns N --clients N     (gRPC channels, concurrent clients; default 1 and 1)
          --json FILE               (results as JSON)
          --compare A=URL,B=URL     (the same workload against each target, fresh key prefix per run; URL+URL for several)
          --rounds N                (compare rounds, the order alternating)
          --warmup N                (unmeasured rounds of the same workload against each target first; default 0)
        """;

    private static readonly HashSet<string> Switches = ["--sequential-keys", "--count-only"];

    private readonly Dictionary<string, string> _flags = new(StringComparer.Ordinal);

    public string Workload { get; private init; } = "";

    public IReadOnlyList<string> Positional { get; private init; } = [];

    public IReadOnlyList<Target> Targets { get; private set; } = [];

    public bool Comparing { get; private set; }

    public string? JsonFile => Text("--json");

    public int Conns => Int("--conns", 1);

    public int Clients => Int("--clients", 1);

    public int Rounds => Int("--rounds", 1);

    public int Warmup => Int("--warmup", 0);

    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var positional = new List<string>();
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                positional.Add(arg);
                continue;
            }
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                flags[arg[..eq]] = arg[(eq + 1)..];
            }
            else if (Switches.Contains(arg))
            {
                flags[arg] = "true";
            }
            else if (i + 1 < args.Count)
            {
                flags[arg] = args[++i];
            }
            else
            {
                throw new ArgumentException($"{arg} needs a value");
            }
        }
        if (positional.Count == 0)
        {
            throw new ArgumentException("name a workload");
        }
        var options = new BenchOptions { Workload = positional[0], Positional = positional[1..] };
        foreach (var (key, value) in flags)
        {
            options._flags[key] = value;
        }
        options.ResolveTargets();
        return options;
    }

    public string? Text(string flag) => _flags.GetValueOrDefault(flag);

    public bool Has(string flag) => _flags.ContainsKey(flag);

    public bool Switch(string flag) => _flags.TryGetValue(flag, out var value) && value is not ("false" or "0");

    public int Int(string flag, int fallback) => (int)Long(flag, fallback);

    public long Long(string flag, long fallback) => _flags.TryGetValue(flag, out var value)
        ? long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed >= 0
            ? parsed
            : throw new ArgumentException($"{flag}: not a count: {value}")
        : fallback;

    public double Double(string flag, double fallback) => _flags.TryGetValue(flag, out var value)
        ? double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) && parsed >= 0
            ? parsed
            : throw new ArgumentException($"{flag}: not a number: {value}")
        : fallback;

    /// <summary>A duration flag: 10s, 500ms, 2m, or a number of seconds.</summary>
    public TimeSpan Duration(string flag, TimeSpan fallback)
    {
        if (!_flags.TryGetValue(flag, out var value))
        {
            return fallback;
        }
        var (number, unit) = value.EndsWith("ms", StringComparison.Ordinal) ? (value[..^2], 0.001)
            : value.EndsWith('s') ? (value[..^1], 1.0)
            : value.EndsWith('m') ? (value[..^1], 60.0)
            : (value, 1.0);
        return double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) && parsed > 0
            ? TimeSpan.FromSeconds(parsed * unit)
            : throw new ArgumentException($"{flag}: not a duration: {value}");
    }

    private void ResolveTargets()
    {
        if (Text("--compare") is { } compare)
        {
            Comparing = true;
            Targets = [.. compare.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ParseTarget)];
            if (Targets.Count != 2)
            {
                throw new ArgumentException("--compare takes two targets: NAME=URL,NAME=URL");
            }
            return;
        }
        var endpoints = (Text("--endpoints") ?? "http://127.0.0.1:2379")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(Url)
            .ToList();
        Targets = [new Target("target", endpoints)];
    }

    private static Target ParseTarget(string text)
    {
        var eq = text.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0)
        {
            throw new ArgumentException($"--compare: expected NAME=URL, got {text}");
        }
        return new Target(text[..eq], [.. text[(eq + 1)..].Split('+', StringSplitOptions.RemoveEmptyEntries).Select(Url)]);
    }

    private static string Url(string endpoint) =>
        endpoint.Contains("://", StringComparison.Ordinal) ? endpoint : "http://" + endpoint;
}

using KubeBrain.Benchmarks;

const string program = "kubebrain-bench";

if (args.Length == 0 || args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(BenchOptions.Usage);
    return args.Length == 0 ? 2 : 0;
}

var workloads = new Dictionary<string, Func<BenchRun, Task<RunResult>>>(StringComparer.Ordinal)
{
    ["put"] = EtcdWorkloads.PutAsync,
    ["range"] = EtcdWorkloads.RangeAsync,
    ["txn-put"] = EtcdWorkloads.TxnPutAsync,
    ["watch"] = EtcdWorkloads.WatchAsync,
    ["watch-latency"] = EtcdWorkloads.WatchLatencyAsync,
    ["lease-keepalive"] = EtcdWorkloads.LeaseKeepAliveAsync,
    ["k8s-create"] = KubernetesWorkloads.CreateAsync,
    ["k8s-load"] = KubernetesWorkloads.LoadAsync,
    ["k8s-update"] = KubernetesWorkloads.UpdateAsync,
    ["k8s-delete"] = KubernetesWorkloads.DeleteAsync,
    ["k8s-list"] = KubernetesWorkloads.ListAsync,
    ["k8s-list-watch"] = KubernetesWorkloads.ListWatchAsync,
    ["k8s-heartbeats"] = KubernetesWorkloads.HeartbeatsAsync,
};

BenchOptions options;
Func<BenchRun, Task<RunResult>> workload;
try
{
    options = BenchOptions.Parse(args);
    workload = workloads.GetValueOrDefault(options.Workload) ?? throw new ArgumentException($"unknown workload {options.Workload}");
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync($"{program}: {e.Message}");
    await Console.Error.WriteLineAsync("Run with --help for the workloads and flags.");
    return 2;
}

var runs = new List<RunResult>();
try
{
    // Warm-up rounds run first in this same process, so that the measured rounds, the first target's first one
    // included, find the client's own code already compiled by the runtime's optimizing tier.
    var warmups = options.Warmup;
    for (var round = 1 - warmups; round <= Math.Max(1, options.Rounds); round++)
    {
        var (index, what) = round > 0 ? (round, "round") : (round + warmups, "warm-up");
        var order = index % 2 == 1 ? options.Targets : options.Targets.Reverse();
        foreach (var target in order)
        {
            await Console.Error.WriteLineAsync($"{options.Workload} against {target.Name} ({string.Join(", ", target.Endpoints)}), {what} {index}");
            using var run = new BenchRun(options, target);
            var result = await workload(run);
            if (round > 0)
            {
                result.Target = target.Name;
                result.Round = round;
                runs.Add(result);
            }
        }
    }
}
catch (Exception e) when (e is ArgumentException or InvalidOperationException or Grpc.Core.RpcException or HttpRequestException)
{
    await Console.Error.WriteLineAsync($"{program}: {options.Workload} failed: {e.Message}");
    return 1;
}

Console.WriteLine(Report.Runs(runs));
List<Comparison>? comparison = null;
if (options.Comparing)
{
    var (text, lines) = Report.Compare(options.Workload, runs, options.Targets[0], options.Targets[1]);
    Console.WriteLine(text);
    comparison = lines;
}
if (options.JsonFile is { } file)
{
    await Report.WriteJsonAsync(file, new { options.Workload, Runs = runs, Comparison = comparison });
}
return 0;

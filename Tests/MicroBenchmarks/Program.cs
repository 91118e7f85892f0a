using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using KubeBrain.MicroBenchmarks;

// The servers' runtime settings (Directory.Build.targets): server GC without DATAS and no instrumented tier for
// dynamic PGO. A job given on the command line (--job short, …) is applied over this one.
var servers = Job.Default
    .WithGcServer(true)
    .WithEnvironmentVariables(
        new EnvironmentVariable("DOTNET_GCDynamicAdaptationMode", "0"),
        new EnvironmentVariable("DOTNET_TieredPGO", "0"))
    .AsDefault();
BenchmarkSwitcher.FromAssembly(typeof(AllocationBudgetAttribute).Assembly).Run(args, DefaultConfig.Instance.AddJob(servers));

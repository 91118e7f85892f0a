using BenchmarkDotNet.Running;
using KubeBrain.MicroBenchmarks;

// The benchmark processes inherit this environment and this program's GC mode: with this variable they run as the
// servers do (Directory.Build.targets: server GC, no instrumented tier for dynamic PGO).
Environment.SetEnvironmentVariable("DOTNET_TieredPGO", "0");
BenchmarkSwitcher.FromAssembly(typeof(AllocationBudgetAttribute).Assembly).Run(args);

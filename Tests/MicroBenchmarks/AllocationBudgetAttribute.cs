namespace KubeBrain.MicroBenchmarks;

/// <summary>
/// The most bytes one call of a benchmark method may allocate on the calling thread, once warm. The test
/// <c>AllocationBudgetTests</c> of KubeBrain.Tests runs every benchmark method after its class's global setup
/// and fails when a call allocates more; every benchmark method must carry one. A budget is the allocation
/// measured as the servers run (without dynamic PGO, whose inlining lets the JIT keep some objects off the heap)
/// rounded up by about a fifth, so that a regression shows and JIT differences do not. To measure after a change
/// that allocates more or less on purpose:
/// <c>DOTNET_TieredPGO=0 dotnet test Tests/KubeBrain.Tests -c Release --filter FullyQualifiedName~AllocationBudget --logger "console;verbosity=detailed"</c>
/// prints each benchmark's bytes per call.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class AllocationBudgetAttribute(long bytesPerOperation) : Attribute
{
    public long BytesPerOperation { get; } = bytesPerOperation;
}

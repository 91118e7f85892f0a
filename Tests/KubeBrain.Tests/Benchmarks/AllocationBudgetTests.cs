using System.Diagnostics;
using System.Linq.Expressions;
using System.Reflection;
using BenchmarkDotNet.Attributes;
using KubeBrain.MicroBenchmarks;
using Xunit;
using Xunit.Abstractions;

namespace KubeBrain.Tests.Benchmarks;

/// <summary>
/// The micro-benchmarks' allocation budgets (<see cref="AllocationBudgetAttribute"/>): every benchmark method
/// runs after its class's global setup, on this thread, until it is warm, and then in rounds whose allocations
/// <see cref="GC.GetAllocatedBytesForCurrentThread"/> counts. The fewest bytes per call of any round must not
/// exceed the budget (a later round only allocates less, once the JIT has optimized the code; with dynamic PGO
/// it may keep some objects off the heap, which the budgets do not count on). What a call allocates does not
/// depend on the machine's speed, so this holds in CI where timings would not.
/// </summary>
public sealed class AllocationBudgetTests(ITestOutputHelper output)
{
    private static readonly TimeSpan WarmUp = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan Round = TimeSpan.FromMilliseconds(20);
    private const int Rounds = 10;
    private const int MaxCallsPerRound = 10_000;

    public static TheoryData<string> Benchmarks => new(BenchmarkMethods().Select(NameOf));

    [Theory]
    [MemberData(nameof(Benchmarks))]
    public void StaysWithinItsBudget(string benchmark)
    {
        var method = BenchmarkMethods().Single(m => NameOf(m) == benchmark);
        var budget = method.GetCustomAttribute<AllocationBudgetAttribute>()?.BytesPerOperation;
        Assert.True(budget is not null, $"{benchmark} has no [AllocationBudget]");
        Assert.True(method.GetParameters().Length == 0 && !typeof(Task).IsAssignableFrom(method.ReturnType), $"{benchmark}: only synchronous benchmarks without arguments can be measured here");
        var instance = Activator.CreateInstance(method.DeclaringType!)!;
        foreach (var setup in method.DeclaringType!.GetMethods().Where(m => m.GetCustomAttribute<GlobalSetupAttribute>() is { } s && (s.Targets.Length == 0 || s.Targets.Contains(method.Name))))
        {
            setup.Invoke(instance, null);
        }
        var measured = BytesPerCall(Compile(instance, method));
        output.WriteLine($"{benchmark}: {measured:F1} bytes per call, budget {budget}");
        Assert.True(
            measured <= budget,
            $"{benchmark} allocates {measured:F1} bytes per call, over its budget of {budget}. If the extra allocation is " +
            "intended, raise the budget in its [AllocationBudget] (Tests/MicroBenchmarks) to this measurement rounded up modestly.");
    }

    [Fact]
    public void EveryBenchmarkHasABudget()
    {
        var methods = BenchmarkMethods();
        Assert.NotEmpty(methods);
        var missing = methods.Where(m => m.GetCustomAttribute<AllocationBudgetAttribute>() is null).Select(NameOf).ToList();
        Assert.True(missing.Count == 0, $"benchmarks without [AllocationBudget]: {string.Join(", ", missing)}");
    }

    [Fact]
    public void EveryBenchmarkClassReportsAllocations()
    {
        var classes = BenchmarkMethods().Select(m => m.DeclaringType!).Distinct();
        var missing = classes.Where(c => c.GetCustomAttribute<MemoryDiagnoserAttribute>() is null).Select(c => c.Name).ToList();
        Assert.True(missing.Count == 0, $"benchmark classes without [MemoryDiagnoser]: {string.Join(", ", missing)}");
    }

    private static List<MethodInfo> BenchmarkMethods() =>
    [
        .. typeof(AllocationBudgetAttribute).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Where(m => m.GetCustomAttribute<BenchmarkAttribute>() is not null)
            .OrderBy(NameOf, StringComparer.Ordinal),
    ];

    private static string NameOf(MethodInfo method) => $"{method.DeclaringType!.Name}.{method.Name}";

    /// <summary>
    /// A call of the benchmark through a delegate, as BenchmarkDotNet makes it, so that the JIT cannot inline it
    /// into the measuring loop and drop what it returns.
    /// </summary>
    private static Action Compile(object instance, MethodInfo method)
    {
        var call = method.CreateDelegate(Expression.GetFuncType(method.ReturnType), instance);
        return Expression.Lambda<Action>(Expression.Invoke(Expression.Constant(call))).Compile();
    }

    private static double BytesPerCall(Action call)
    {
        var clock = Stopwatch.StartNew();
        long calls = 0;
        while (clock.Elapsed < WarmUp || calls < 2)
        {
            call();
            calls++;
        }
        var perRound = (int)Math.Clamp(Round / (clock.Elapsed / calls), 1, MaxCallsPerRound);
        var fewest = double.MaxValue;
        for (var round = 0; round < Rounds; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < perRound; i++)
            {
                call();
            }
            fewest = Math.Min(fewest, (double)(GC.GetAllocatedBytesForCurrentThread() - before) / perRound);
        }
        return fewest;
    }
}

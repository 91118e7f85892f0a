using System.Runtime;

namespace KubeBrain.EtcdFrontend.Hosting;

/// <summary>
/// The garbage collector's settings as the runtime applied them. The programs ship theirs in their runtime
/// configuration (Directory.Build.targets) and <c>DOTNET_</c> variables override them; a setting the runtime does not
/// know by that name is ignored without a word, so the servers print what is in force when they start.
/// </summary>
public static class RuntimeSettings
{
    /// <summary>One line: the runtime's version, the collector, its gen0 allocation budget's cap and ConserveMemory.</summary>
    public static string Describe()
    {
        var gc = GC.GetConfigurationVariables();
        long Number(string name) => gc.TryGetValue(name, out var value) && value is long number ? number : 0;
        var collector = !GCSettings.IsServerGC ? "workstation GC"
            : Number("GCDynamicAdaptationMode") == 1 ? "server GC with DATAS"
            : "server GC";
        return $"runtime: .NET {Environment.Version}, {collector}, gen0 budget at most {Number("GCGen0MaxBudget") >> 20} MiB per heap, ConserveMemory {Number("GCConserveMem")}";
    }
}

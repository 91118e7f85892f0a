using System.Globalization;
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
        string Setting(string name) => gc.TryGetValue(name, out var value) ? string.Create(CultureInfo.InvariantCulture, $"{value}") : "unknown";
        var collector = !GCSettings.IsServerGC ? "workstation GC"
            : Setting("GCDynamicAdaptationMode") == "1" ? "server GC with DATAS"
            : "server GC";
        var budget = gc.TryGetValue("GCGen0MaxBudget", out var value) && value is long bytes
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:0.##} MiB")
            : "unknown";
        return $"runtime: .NET {Environment.Version}, {collector}, gen0 budget at most {budget} per heap, ConserveMemory {Setting("GCConserveMem")}";
    }
}

using KubeBrain.EtcdFrontend.Hosting;
using KubeBrain.Tests.Infrastructure;
using Xunit;

namespace KubeBrain.Tests.Behaviour;

/// <summary>
/// The servers' runtime settings (Directory.Build.targets) reach the garbage collector. The runtime ignores a setting
/// whose name it does not know, without a word, so only the collector's own report shows that one is in force.
/// </summary>
public sealed class RuntimeSettingsTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("kubebrain-runtime-").FullName;

    [Fact]
    public async Task TheServerRunsWithTheShippedCollectorSettings()
    {
        await using var server = await ServerProcess.StartAsync(_dataDir);

        Assert.Contains(", server GC with DATAS, gen0 budget at most 16 MiB per heap, ConserveMemory 9", server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void TheReportNamesTheCollectorInForce()
    {
        // The test host keeps the runtime's default collector, the workstation one, and no ConserveMemory.
        Assert.Matches(@"^runtime: \.NET 10\.\d+\.\d+, workstation GC, gen0 budget at most \d+(\.\d+)? MiB per heap, ConserveMemory 0$", RuntimeSettings.Describe());
    }

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);
}

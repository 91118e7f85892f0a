using Google.Protobuf;
using KubeBrain.EtcdFrontend.Hosting;
using KubeBrain.Tests.Infrastructure;
using Xunit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Behaviour;

/// <summary>
/// <c>--memory-trim-interval</c>: once a server has gone quiet after a burst, the memory its GC holds unused goes back
/// to the operating system; while it is busy, or without enough unused memory, nothing is collected.
/// </summary>
public sealed class MemoryTrimTests : IDisposable
{
    private const long MiB = 1 << 20;

    private readonly string _dataDir = Directory.CreateTempSubdirectory("kubebrain-trim-").FullName;

    [Theory]
    [InlineData(7, 7, 80 * MiB, 40 * MiB, 0, true)] // quiet, 40 MiB unused of 40 live
    [InlineData(7, 8, 80 * MiB, 40 * MiB, 0, false)] // a collection ran during the interval: busy
    [InlineData(7, 7, 60 * MiB, 40 * MiB, 0, false)] // quiet, 20 MiB unused: below the minimum
    [InlineData(7, 7, 60 * MiB, 40 * MiB, 15 * MiB, true)] // free space in the heap is unused too: 35 MiB of 25 live
    [InlineData(7, 7, 550 * MiB, 400 * MiB, 0, false)] // 150 MiB unused is less than half of 400 live
    [InlineData(7, 7, 600 * MiB, 400 * MiB, 0, true)] // 200 MiB is half
    public void ATrimNeedsAQuietIntervalAndEnoughUnusedMemory(int before, int now, long committed, long heap, long fragmented, bool worth) =>
        Assert.Equal(worth, IdleMemoryTrim.IsWorthTrimming(before, now, committed, heap, fragmented));

    /// <summary>
    /// Without the trim the server GC keeps what the burst made it commit, and the resident memory stays at its peak
    /// however long the server idles. The servers ship a gen0 budget of at most 16 MiB per heap, which leaves too
    /// little unused after this burst to be worth a trim; this server runs with the cap raised to 200 MiB, the value
    /// the server GC reports as its own, as an operator may set it (<c>DOTNET_GCGen0MaxBudget</c>), under which the
    /// burst leaves the GC holding more.
    /// </summary>
    [Fact]
    public async Task AServerThatWentQuietAfterABurst_GivesTheMemoryBack()
    {
        var metrics = $"http://127.0.0.1:{FreePort.Next()}";
        await using var server = await ServerProcess.StartAsync(
            _dataDir, new Dictionary<string, string> { ["DOTNET_GCGen0MaxBudget"] = "0xC800000" }, "--memory-trim-interval", "2s", "--listen-metrics-urls", metrics);
        var value = UnsafeByteOperations.UnsafeWrap(new byte[1024]);
        await Task.WhenAll(Enumerable.Range(0, 100).Select(async writer =>
        {
            for (var n = 0; n < 400; n++)
            {
                await server.Kv.PutAsync(new Rpc.PutRequest { Key = ByteString.CopyFromUtf8($"/registry/pods/ns-{writer}/pod-{n}"), Value = value });
            }
        }));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var (rss, peak) = ResidentMemory(server.Id);
        while (rss > peak - IdleMemoryTrim.MinimumUnusedBytes)
        {
            Assert.True(DateTime.UtcNow < deadline, $"resident {rss >> 20} MiB, {peak >> 20} MiB at the peak: no memory went back in time");
            await Task.Delay(100);
            (rss, peak) = ResidentMemory(server.Id);
        }
        using var http = new HttpClient();
        var samples = PrometheusText.Parse(await http.GetStringAsync($"{metrics}/metrics"));
        Assert.True(samples.Single(s => s.Name == "kubebrain_memory_trims_total").Value >= 1);
        Assert.True(samples.Single(s => s.Name == "kubebrain_memory_trimmed_bytes_total").Value >= IdleMemoryTrim.MinimumUnusedBytes);
    }

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    /// <summary>The process's resident memory now and at its peak (VmRSS and VmHWM), in bytes.</summary>
    private static (long Rss, long Peak) ResidentMemory(int pid)
    {
        var status = File.ReadAllLines($"/proc/{pid}/status");
        long Field(string name) => long.Parse(status.Single(l => l.StartsWith(name + ":", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return (Field("VmRSS"), Field("VmHWM"));
    }
}

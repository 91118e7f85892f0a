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
    private const long KiB = 1 << 10;
    private const long MiB = 1 << 20;

    private readonly string _dataDir = Directory.CreateTempSubdirectory("kubebrain-trim-").FullName;

    [Theory]
    [InlineData(200 * KiB, 5, 80 * MiB, 40 * MiB, 0, true)] // quiet, 40 MiB unused of 40 live
    [InlineData(8 * MiB, 5, 80 * MiB, 40 * MiB, 0, false)] // 8 MiB allocated in 5 s (1.6 MiB/s, about 100 puts/s): busy
    [InlineData(1280 * KiB, 5, 80 * MiB, 40 * MiB, 0, false)] // exactly 256 KiB/s is no longer quiet
    [InlineData(600 * KiB, 2, 80 * MiB, 40 * MiB, 0, false)] // 300 KiB/s over a shorter interval: busy
    [InlineData(600 * KiB, 5, 80 * MiB, 40 * MiB, 0, true)] // the same over 5 s is 120 KiB/s: quiet
    [InlineData(200 * KiB, 5, 60 * MiB, 40 * MiB, 0, false)] // quiet, 20 MiB unused: below the minimum
    [InlineData(200 * KiB, 5, 60 * MiB, 40 * MiB, 15 * MiB, true)] // free space in the heap is unused too: 35 MiB of 25 live
    [InlineData(200 * KiB, 5, 490 * MiB, 400 * MiB, 0, false)] // 90 MiB unused is less than a quarter of 400 live
    [InlineData(200 * KiB, 5, 500 * MiB, 400 * MiB, 0, true)] // 100 MiB is a quarter
    public void ATrimNeedsAQuietIntervalAndEnoughUnusedMemory(long allocated, int seconds, long committed, long heap, long fragmented, bool worth) =>
        Assert.Equal(worth, IdleMemoryTrim.IsWorthTrimming(allocated, TimeSpan.FromSeconds(seconds), committed, heap, fragmented));

    /// <summary>
    /// Without the trim the server GC keeps what the burst made it commit, and the resident memory stays at its peak
    /// however long the server idles. While steady light traffic follows the burst (100 puts a second, too little to
    /// make the GC collect often), nothing is trimmed: the GC would take back what a trim gave. Once the traffic stops,
    /// the trim comes within a few intervals, so the memory was worth trimming while the traffic ran. Under the
    /// shipped gen0 budget (at most 16 MiB per heap) what this burst leaves unused varies from run to run around the
    /// trim's thresholds, so this server runs with the budget's cap raised to 200 MiB, the value the server GC reports
    /// as its own, as an operator may set it (<c>DOTNET_GCGen0MaxBudget</c>); the burst then leaves the GC holding
    /// far more than a quarter of its live heap unused.
    /// </summary>
    [Fact]
    public async Task AServerThatWentQuietAfterABurst_GivesTheMemoryBack()
    {
        var metrics = $"http://127.0.0.1:{FreePort.Next()}";
        await using var server = await ServerProcess.StartAsync(
            _dataDir, new Dictionary<string, string> { ["DOTNET_GCGen0MaxBudget"] = "0xC800000" }, "--memory-trim-interval", "2s", "--listen-metrics-urls", metrics);
        using var http = new HttpClient();
        var value = UnsafeByteOperations.UnsafeWrap(new byte[1024]);
        await Task.WhenAll(Enumerable.Range(0, 100).Select(async writer =>
        {
            for (var n = 0; n < 400; n++)
            {
                await server.Kv.PutAsync(new Rpc.PutRequest { Key = ByteString.CopyFromUtf8($"/registry/pods/ns-{writer}/pod-{n}"), Value = value });
            }
        }));

        using (var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(10)))
        {
            for (var n = 0; n < 600 && await pace.WaitForNextTickAsync(); n++)
            {
                await server.Kv.PutAsync(new Rpc.PutRequest { Key = ByteString.CopyFromUtf8($"/registry/leases/node-{n % 50}"), Value = value });
            }
        }
        Assert.Equal(0, await TrimsAsync(http, metrics));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        var (rss, peak) = ResidentMemory(server.Id);
        while (rss > peak - IdleMemoryTrim.MinimumUnusedBytes)
        {
            Assert.True(DateTime.UtcNow < deadline, $"resident {rss >> 20} MiB, {peak >> 20} MiB at the peak: no memory went back in time");
            await Task.Delay(100);
            (rss, peak) = ResidentMemory(server.Id);
        }
        Assert.True(await TrimsAsync(http, metrics) >= 1);
        var samples = PrometheusText.Parse(await http.GetStringAsync($"{metrics}/metrics"));
        Assert.True(samples.Single(s => s.Name == "kubebrain_memory_trimmed_bytes_total").Value >= IdleMemoryTrim.MinimumUnusedBytes);
    }

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    /// <summary>The trims the server has counted, 0 before the first (the counter is not reported until then).</summary>
    private static async Task<double> TrimsAsync(HttpClient http, string metrics) =>
        PrometheusText.Parse(await http.GetStringAsync($"{metrics}/metrics")).SingleOrDefault(s => s.Name == "kubebrain_memory_trims_total")?.Value ?? 0;

    /// <summary>The process's resident memory now and at its peak (VmRSS and VmHWM), in bytes.</summary>
    private static (long Rss, long Peak) ResidentMemory(int pid)
    {
        var status = File.ReadAllLines($"/proc/{pid}/status");
        long Field(string name) => long.Parse(status.Single(l => l.StartsWith(name + ":", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return (Field("VmRSS"), Field("VmHWM"));
    }
}

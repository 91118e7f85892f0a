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
    [InlineData(200 * KiB, 80 * MiB, 40 * MiB, 0, true)] // quiet, 40 MiB unused of 40 live
    [InlineData(4 * MiB, 80 * MiB, 40 * MiB, 0, false)] // 4 MiB allocated in 5 s (800 KiB/s, about 100 puts/s): busy
    [InlineData(1280 * KiB, 80 * MiB, 40 * MiB, 0, false)] // exactly 256 KiB/s is no longer quiet
    [InlineData(200 * KiB, 60 * MiB, 40 * MiB, 0, false)] // quiet, 20 MiB unused: below the minimum
    [InlineData(200 * KiB, 60 * MiB, 40 * MiB, 15 * MiB, true)] // free space in the heap is unused too: 35 MiB of 25 live
    [InlineData(200 * KiB, 490 * MiB, 400 * MiB, 0, false)] // 90 MiB unused is less than a quarter of 400 live
    [InlineData(200 * KiB, 500 * MiB, 400 * MiB, 0, true)] // 100 MiB is a quarter
    public void ATrimNeedsAQuietIntervalAndEnoughUnusedMemory(long allocated, long committed, long heap, long fragmented, bool worth) =>
        Assert.Equal(worth, IdleMemoryTrim.IsWorthTrimming(allocated, TimeSpan.FromSeconds(5), committed, heap, fragmented));

    /// <summary>
    /// Without the trim the server GC keeps what the burst made it commit, and the resident memory stays at its peak
    /// however long the server idles. While a trickle of requests follows the burst (100 puts a second, too few to
    /// make the GC collect often), nothing is trimmed: a collection then would be taken back by the next ones.
    /// </summary>
    [Fact]
    public async Task AServerThatWentQuietAfterABurst_GivesTheMemoryBack()
    {
        var metrics = $"http://127.0.0.1:{FreePort.Next()}";
        await using var server = await ServerProcess.StartAsync(_dataDir, "--memory-trim-interval", "2s", "--listen-metrics-urls", metrics);
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

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
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

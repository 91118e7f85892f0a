using System.Diagnostics;
using System.Diagnostics.Metrics;
using KubeBrain.Grains.Interfaces;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KubeBrain.EtcdFrontend.Hosting;

/// <summary>
/// Gives the memory that the garbage collector holds beyond its heap back to the operating system once the process
/// has gone quiet, as Go's scavenger does for etcd. The server GC keeps what a burst of requests made it commit (its
/// allocation budgets, and the holes that values leaving memory leave in the oldest generation) until a collection
/// needs it again, so a server that has gone idle would otherwise hold its peak. Every interval this looks at what
/// the process allocated since the last look and at the last collection; when the process allocated less than
/// <see cref="QuietBytesPerSecond"/> a second (it is idle, or serves a few requests a second) and the GC holds unused
/// at least <see cref="MinimumUnusedBytes"/> and a quarter of what is live, it runs one aggressive collection, which
/// compacts the heap and decommits every free region. A process serving more traffic than that runs collections of
/// its own, which would take back what a trim gave; after a trim the GC holds little unused until a burst leaves as
/// much again. Its pause grows with the live heap (42 ms with 100,000 pods of 1 KiB loaded, 78 ms with 250,000, on
/// two cores). The GC is the process's, so one loop runs per process however many servers it hosts.
/// </summary>
public sealed partial class IdleMemoryTrim : BackgroundService
{
    /// <summary>Less unused memory than this is not worth a full collection.</summary>
    public const long MinimumUnusedBytes = 32L << 20;

    /// <summary>
    /// A process that allocates less than this a second is quiet. An idle server allocates 30-55 KiB a second (its
    /// timers and the cluster's housekeeping); one taking 100 puts a second from one client, about 1.6 MiB.
    /// </summary>
    public const long QuietBytesPerSecond = 256L << 10;

    private static int _running;

    private readonly TimeSpan _interval;
    private readonly ILogger<IdleMemoryTrim> _logger;
    private readonly Counter<long> _trims;
    private readonly Counter<long> _trimmedBytes;

    public IdleMemoryTrim(TimeSpan interval, IMeterFactory meters, ILogger<IdleMemoryTrim> logger)
    {
        _interval = interval;
        _logger = logger;
        var meter = meters.Create(KubeBrainMeter.Name);
        _trims = meter.CreateCounter<long>(
            "kubebrain_memory_trims", null, "Collections run to give the GC's unused memory back to the operating system once the process went quiet.");
        _trimmedBytes = meter.CreateCounter<long>(
            "kubebrain_memory_trimmed_bytes", null, "Memory the GC gave back to the operating system in those collections.");
    }

    /// <summary>
    /// Whether a trim is worth it: the process allocated less than <see cref="QuietBytesPerSecond"/> a second over
    /// the interval, and the last collection left the GC holding unused, committed but not live, at least
    /// <see cref="MinimumUnusedBytes"/> and a quarter of what is live.
    /// </summary>
    /// <param name="allocatedBytes">What the process allocated since the last look.</param>
    /// <param name="interval">The time since the last look.</param>
    /// <param name="committedBytes">The memory the GC had committed at its last collection.</param>
    /// <param name="heapBytes">The heap's size after it, free space in it included.</param>
    /// <param name="fragmentedBytes">The free space in the heap after it.</param>
    public static bool IsWorthTrimming(long allocatedBytes, TimeSpan interval, long committedBytes, long heapBytes, long fragmentedBytes)
    {
        var live = heapBytes - fragmentedBytes;
        var unused = committedBytes - live;
        return allocatedBytes < QuietBytesPerSecond * interval.TotalSeconds && unused >= Math.Max(MinimumUnusedBytes, live / 4);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (Interlocked.CompareExchange(ref _running, 1, 0) != 0)
        {
            return;
        }
        try
        {
            using var timer = new PeriodicTimer(_interval);
            var allocated = GC.GetTotalAllocatedBytes();
            var looked = Stopwatch.GetTimestamp();
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var last = GC.GetGCMemoryInfo();
                if (IsWorthTrimming(GC.GetTotalAllocatedBytes() - allocated, Stopwatch.GetElapsedTime(looked), last.TotalCommittedBytes, last.HeapSizeBytes, last.FragmentedBytes))
                {
                    Trim(last.TotalCommittedBytes);
                }
                allocated = GC.GetTotalAllocatedBytes();
                looked = Stopwatch.GetTimestamp();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    private void Trim(long committedBefore)
    {
        var started = Stopwatch.GetTimestamp();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var pause = Stopwatch.GetElapsedTime(started);
        var after = GC.GetGCMemoryInfo();
        var trimmed = Math.Max(0, committedBefore - after.TotalCommittedBytes);
        _trims.Add(1);
        _trimmedBytes.Add(trimmed);
        LogTrimmed(trimmed >> 20, after.TotalCommittedBytes >> 20, pause.TotalMilliseconds);
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Debug, Message = "The process went quiet: a collection gave {Trimmed} MiB back to the operating system, the GC holds {Committed} MiB, in {PauseMs:F0} ms")]
    private partial void LogTrimmed(long trimmed, long committed, double pauseMs);
}

/// <summary>Registers <see cref="IdleMemoryTrim"/>.</summary>
public static class IdleMemoryTrimExtensions
{
    /// <summary>Runs <see cref="IdleMemoryTrim"/> every <c>--memory-trim-interval</c>, unless that is zero.</summary>
    public static WebApplicationBuilder AddIdleMemoryTrim(this WebApplicationBuilder builder, FrontendCommandLine options)
    {
        if (options.MemoryTrimInterval > TimeSpan.Zero)
        {
            builder.Services.AddHostedService(services => new IdleMemoryTrim(
                options.MemoryTrimInterval, services.GetRequiredService<IMeterFactory>(), services.GetRequiredService<ILogger<IdleMemoryTrim>>()));
        }
        return builder;
    }
}

using System.Collections.Concurrent;
using Grpc.Core;
using KubeBrain.Tests.Infrastructure;
using KubeBrain.Tests.Watch;
using Xunit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Behaviour;

/// <summary>
/// Failover of the production shape: two silos and two frontend processes on one PostgreSQL under concurrent
/// writes and watches through both frontends. The silo that runs the sequencer and one frontend are killed with -9
/// mid-load. Afterwards every acknowledged write is present, the revisions are dense, and the surviving
/// frontend's watcher received every revision exactly once, in order, across the sequencer's move.
/// </summary>
public sealed class FailoverTests
{
    private const string Prefix = "/registry/failover";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan RetryBackoff = TimeSpan.FromMilliseconds(50);

    [Fact]
    public async Task KillingTheSequencersSiloAndAFrontendMidLoadLosesNothingAndWatchesResume()
    {
        await using var cluster = new KubeBrainCluster();
        await Task.WhenAll(cluster.StartSiloAsync("silo-a"), cluster.StartSiloAsync("silo-b"));
        var frontends = await Task.WhenAll(cluster.StartFrontendAsync("fe-a"), cluster.StartFrontendAsync("fe-b"));
        var (doomed, survivor) = (frontends[0], frontends[1]);
        var start = (await survivor.Kv.PutAsync(Etcd.Put($"{Prefix}-start/k", "0"))).Header.Revision;

        await using var survivorWatch = new WatchSession(new Rpc.Watch.WatchClient(survivor.Channel), TimeSpan.FromMinutes(5));
        await using var doomedWatch = new WatchSession(new Rpc.Watch.WatchClient(doomed.Channel), TimeSpan.FromMinutes(5));
        var everything = new Rpc.WatchCreateRequest
        {
            Key = Etcd.Bytes(Prefix), RangeEnd = Etcd.PrefixEnd(Prefix), StartRevision = start + 1, WatchId = 1,
        };
        await survivorWatch.CreateAsync(everything);
        await doomedWatch.CreateAsync(everything);

        var load = new Load();
        var writers = new[] { doomed, doomed, survivor, survivor }.Select((frontend, i) => load.WriteAsync(frontend, i)).ToList();
        await load.AckedAtLeastAsync(40);

        var sequencerSilo = cluster.Silos.Single(s => s.Output.Contains("Sequencer activated", StringComparison.Ordinal));
        await sequencerSilo.KillAsync();
        await load.AckedAtLeastAsync(load.Acked.Count + 20);
        await doomed.KillAsync();
        await load.AckedAtLeastAsync(load.Acked.Count + 20);
        load.Stop();
        await Task.WhenAll(writers);

        var last = (await survivor.Kv.PutAsync(Etcd.Put($"{Prefix}-end/k", "end"))).Header.Revision;
        var events = await survivorWatch.ReadEventsAsync(1, (int)(last - start), Wait);
        Assert.Equal(Enumerable.Range(0, (int)(last - start)).Select(i => start + 1 + i), events.Select(e => e.Kv.ModRevision));
        var attempted = load.Attempted.ToHashSet();
        Assert.All(events.SkipLast(1), e => Assert.Contains(e.Kv.Key.ToStringUtf8(), attempted));
        var seen = events.ToDictionary(e => e.Kv.Key.ToStringUtf8(), e => e.Kv.ModRevision);
        foreach (var (key, revision) in load.Acked)
        {
            Assert.Equal(revision, seen.GetValueOrDefault(key));
            var stored = (await survivor.Kv.RangeAsync(Etcd.Get(key), deadline: DateTime.UtcNow + Wait)).Kvs.Single();
            Assert.Equal(revision, stored.ModRevision);
        }
        var listed = await survivor.Kv.RangeAsync(Etcd.List(Prefix), deadline: DateTime.UtcNow + Wait);
        Assert.Equal(seen.Keys.Append($"{Prefix}-start/k").Order(StringComparer.Ordinal), listed.Kvs.Select(kv => kv.Key.ToStringUtf8()));

        var beforeItsKill = doomedWatch.All.SelectMany(r => r.Events).Select(e => e.Kv.ModRevision).ToList();
        Assert.Equal(Enumerable.Range(0, beforeItsKill.Count).Select(i => start + 1 + i), beforeItsKill);
    }

    /// <summary>Writers that put a fresh key per attempt, recording what was acknowledged at which revision.</summary>
    private sealed class Load
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly SemaphoreSlim _progress = new(0);

        public ConcurrentQueue<(string Key, long Revision)> Acked { get; } = new();

        public ConcurrentQueue<string> Attempted { get; } = new();

        public void Stop() => _stop.Cancel();

        public async Task AckedAtLeastAsync(int count)
        {
            using var timeout = new CancellationTokenSource(Wait);
            while (Acked.Count < count)
            {
                await _progress.WaitAsync(timeout.Token);
            }
        }

        /// <summary>
        /// Puts until stopped or until its frontend is gone. A failed put's outcome is unknown (it may have committed),
        /// so it is only recorded as attempted.
        /// </summary>
        public async Task WriteAsync(ServerProcess frontend, int writer)
        {
            for (var i = 0; !_stop.IsCancellationRequested && !frontend.HasExited; i++)
            {
                var key = $"{Prefix}{writer % 3}/w{writer}-{i}";
                Attempted.Enqueue(key);
                try
                {
                    var put = await frontend.Kv.PutAsync(Etcd.Put(key, "v"), deadline: DateTime.UtcNow + Wait);
                    Acked.Enqueue((key, put.Header.Revision));
                    _progress.Release();
                }
                catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal)
                {
                    await Task.Delay(RetryBackoff);
                }
            }
        }
    }
}

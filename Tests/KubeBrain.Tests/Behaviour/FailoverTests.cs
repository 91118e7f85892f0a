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

        var load = new WriteLoad(Prefix, Wait);
        var writers = new[] { doomed, doomed, survivor, survivor }.Select((frontend, i) => load.WriteAsync(frontend.Kv, i, () => frontend.HasExited)).ToList();
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
}

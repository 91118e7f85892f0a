using System.Text;
using BenchmarkDotNet.Attributes;
using KubeBrain.EtcdFrontend;
using KubeBrain.EtcdFrontend.Watch;
using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.MicroBenchmarks;

/// <summary>
/// A committed revision matched against 1,000 synced watchers, as the watch hub and the streams' send loops do
/// it: the hub asks each watcher whether it wants the revision (<see cref="Watcher.Wants(FeedItem)"/>) and the
/// send loop selects and encodes the events it wants (<see cref="Watcher.Select"/>; each event is encoded once
/// per revision, with and without prev_kv, and shared). Queuing and writing to the network are not included.
/// The watchers, on 100 streams: 400 on single pods, 300 on a namespace's prefix, 100 on ranges of 50 pods, 100
/// on every pod with NOPUT or NODELETE, 100 on all of <c>/registry/</c>; every other one asks for prev_kv.
/// </summary>
[MemoryDiagnoser]
public class WatchFilterBenchmarks
{
    private const int Watchers = 1000;
    private const int Streams = 100;

    private readonly List<Watcher> _watchers = [];
    private FeedItem _podUpdate = null!;
    private FeedItem _leaseRenewal = null!;
    private FeedItem _namespaceDeletes = null!;

    [GlobalSetup]
    public void Setup()
    {
        var headers = Workload.Headers();
        var streams = Enumerable.Range(0, Streams).Select(_ => new WatchStream(headers, EtcdFrontendOptions.DefaultMaxRequestBytes)).ToList();
        var pods = Bytes("/registry/pods/");
        for (var i = 0; i < Watchers; i++)
        {
            var ns = i % Workload.Namespaces;
            var pod = i * 7 % Workload.PodsPerNamespace;
            var span = (i % 10) switch
            {
                < 4 => KeySpan.Single(Workload.Key(ns, pod)),
                < 7 => Workload.Namespace(ns),
                7 => new KeySpan(Workload.Key(ns, pod), Workload.Key(ns, Math.Min(pod + 50, Workload.PodsPerNamespace - 1))),
                8 => new KeySpan(pods, Bytes("/registry/pods0")),
                _ => new KeySpan(Bytes("/registry/"), Bytes("/registry0")),
            };
            _watchers.Add(new Watcher(streams[i % Streams], i, span, Workload.LastRevision + 1)
            {
                NoPut = i % 10 == 8 && i % 20 < 10,
                NoDelete = i % 10 == 8 && i % 20 >= 10,
                PrevKv = i % 2 == 1,
            });
        }
        var revision = Workload.LastRevision + 1;
        var updated = Workload.Pod(3, 77, Workload.Updates);
        _podUpdate = Revision(revision, new WatchEvent(false, updated with { ModRevision = revision, Version = updated.Version + 1 }, updated));
        var lease = new KeyValue(Bytes("/registry/leases/kube-node-lease/node-1"), 3, revision - 10, 41, Workload.Value(-2)[..300], 0);
        _leaseRenewal = Revision(revision, new WatchEvent(false, lease with { ModRevision = revision, Version = 42 }, lease));
        _namespaceDeletes = Revision(
            revision,
            [.. Enumerable.Range(0, 100).Select(p => Workload.Pod(3, p, Workload.Updates)).Select(prev => new WatchEvent(true, new KeyValue(prev.Key, 0, revision, 0, [], 0), prev))]);
    }

    /// <summary>One pod updated.</summary>
    [Benchmark]
    [AllocationBudget(4_800)]
    public int PodUpdateTo1000Watchers() => Fan(_podUpdate);

    /// <summary>A node's lease renewed, the most frequent write of a Kubernetes cluster; only the watchers of all of /registry/ want it.</summary>
    [Benchmark]
    [AllocationBudget(1_500)]
    public int LeaseRenewalTo1000Watchers() => Fan(_leaseRenewal);

    /// <summary>One revision deleting 100 pods of a namespace.</summary>
    [Benchmark]
    [AllocationBudget(220_000)]
    public int HundredDeletesTo1000Watchers() => Fan(_namespaceDeletes);

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>A revision as the sequencer puts it on the feed: its events in an array.</summary>
    private static FeedItem Revision(long revision, params WatchEvent[] events) => new(revision, events, 0);

    private int Fan(FeedItem item)
    {
        var revision = new RevisionEvents(item);
        var sent = 0;
        foreach (var watcher in _watchers)
        {
            if (watcher.Wants(item))
            {
                sent += watcher.Select(revision).Events.Count;
            }
        }
        return sent;
    }
}

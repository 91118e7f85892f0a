using KubeBrain.Silo;
using Xunit;
using static KubeBrain.Tests.Watch.WatchKit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Watch;

/// <summary>
/// Watch behaviour the contract (etcd-contract.md §1.6, architecture I5) requires where etcd 3.4, the oracle of the
/// wire tests, falls short or has nothing to compare: etcd 3.4 answers every WatchProgressRequest at once through
/// its control channel, so the answer can overtake events (etcd #15220), and it sends progress notifications below
/// a future start revision (the #20221 class). These run against KubeBrain only.
/// </summary>
public sealed class KubeBrainWatchTests(KubeBrainWatchFixture fixture) : IClassFixture<KubeBrainWatchFixture>
{
    private WatchTarget Target => fixture.Target;

    private Rpc.KV.KVClient Kv => Target.Kv;

    [Fact]
    public async Task ProgressRequests_DuringWrites_AreOrderedAfterEveryEventAtOrBelowTheirRevision()
    {
        var p = NewPrefix("bookmark");
        var first = await CurrentRevisionAsync(Kv) + 1;
        await using var observation = new WatchObservation(Target, streams: 1);
        var session = observation.Sessions[0];
        await observation.CreateAsync(0, B(p), PrefixEnd(p), 0, prevKv: false);
        await observation.CreateAsync(0, B(p + "3"), Google.Protobuf.ByteString.Empty, 0, prevKv: true);
        await observation.WaitCreatedAsync(WatchSession.DefaultWait);
        var keys = Enumerable.Range(0, 10).Select(i => $"{p}{i}").ToList();
        var workload = new WatchWorkload(keys, [p]);

        var writers = Task.WhenAll(Enumerable.Range(0, 4).Select(w => Task.Run(() => workload.RunWriterAsync(Kv, 1000 + w, w, 75))));
        for (var acked = 1L; !writers.IsCompleted; acked = workload.Acks.Value + 1)
        {
            await session.SendProgressRequestAsync();
            await workload.Acks.WaitForAsync(acked, writers, TimeSpan.FromSeconds(30));
        }
        await writers;
        var last = await CurrentRevisionAsync(Kv);
        await session.RequestBarrierAsync();
        var (_, final) = await RequestProgressAsync(session);

        Assert.True(final.Header.Revision >= last, $"final progress at {final.Header.Revision}, below {last}");
        Assert.True(session.All.Count(r => r.WatchId == -1) > 10, $"only {session.All.Count(r => r.WatchId == -1)} progress responses: the test did not interleave them with events");
        var history = await WatchHistory.ReadAsync(Kv, first, last);
        var problems = history.CheckAgainst(workload.Acked, workload.Unknown);
        problems.AddRange(observation.Validate(history));
        Assert.True(problems.Count == 0, WatchGuaranteeValidator.Report(problems));
    }

    [Fact]
    public async Task ProgressNotify_IsNeverSentBelowAFutureStartRevision()
    {
        var p = NewPrefix("future-progress");
        await using var session = Target.Open();
        var future = OnPrefix(p, start: await CurrentRevisionAsync(Kv) + 1000);
        future.ProgressNotify = true;
        var idle = OnPrefix(p + "idle/");
        idle.ProgressNotify = true;
        var futureId = (await session.CreateAsync(future)).WatchId;
        var idleId = (await session.CreateAsync(idle)).WatchId;

        // Two notifications of the idle watcher mean at least one whole interval passed for both.
        await session.WaitUntilAsync(log => log.Count(r => r.WatchId == idleId && !r.Created) >= 2, "two progress notifications", WatchTarget.ProgressInterval * 6);

        Assert.DoesNotContain(session.All, r => r.WatchId == futureId && !r.Created);
    }

    [Fact]
    public async Task ProgressRequest_IsNotAnswered_UntilTheRevisionBeforeEveryStartIsReached()
    {
        var p = NewPrefix("progress-future");
        await using var session = Target.Open();
        var current = await CurrentRevisionAsync(Kv);
        await session.CreateAsync(OnPrefix(p, start: current + 3));

        await session.SendProgressRequestAsync();
        var early = await session.RequestBarrierAsync();

        Assert.DoesNotContain(early, r => r.WatchId == -1);
        await PutAsync(Kv, p + "a", "1");
        var reached = await PutAsync(Kv, p + "b", "2");
        var (_, progress) = await RequestProgressAsync(session);
        AssertResponse(Notice(-1, reached), progress);
    }

    [Fact]
    public async Task AWatchFromExactlyTheCompactionRevision_GetsTheDeleteAtThatRevision_WithItsPrevKv()
    {
        // etcd lost this event (#18089, #19179); the design keeps every row at the compaction revision and the
        // version each replaced.
        var p = NewPrefix("delete-at-compaction");
        var written = await PutAsync(Kv, p + "k", "v");
        var deleted = await DeleteAsync(Kv, p + "k");
        var after = await PutAsync(Kv, p + "other", "o");
        await Kv.CompactAsync(new Rpc.CompactionRequest { Revision = deleted, Physical = true });
        await using var session = Target.Open();

        var id = (await session.CreateAsync(OnPrefix(p, start: deleted, prevKv: true))).WatchId;

        await session.WaitUntilAsync(log => EventsOf(log, id).Count >= 2, "the two events from the compaction revision on");
        AssertEvents([DeleteEvent(p + "k", deleted, Kv(p + "k", "v", written, written, 1)), PutEvent(Kv(p + "other", "o", after, after, 1))], EventsOf(session.All, id));
    }

    [Fact]
    public async Task ProgressNotify_IsSentOnlyToWatchersThatAskedForIt()
    {
        var p = NewPrefix("notify-opt-in");
        await using var session = Target.Open();
        var asked = OnPrefix(p + "asked/");
        asked.ProgressNotify = true;
        var quietId = (await session.CreateAsync(OnPrefix(p + "quiet/"))).WatchId;
        var askedId = (await session.CreateAsync(asked)).WatchId;

        await session.WaitUntilAsync(log => log.Count(r => r.WatchId == askedId && !r.Created) >= 2, "two progress notifications", WatchTarget.ProgressInterval * 6);

        Assert.DoesNotContain(session.All, r => r.WatchId == quietId && !r.Created);
    }
}

/// <summary>Serving a watch must not hold up the server's graceful stop (a stop without any watch takes milliseconds).</summary>
public sealed class KubeBrainWatchShutdownTests
{
    [Fact]
    public async Task AfterAWatchStreamClosed_TheServerStillStopsPromptly()
    {
        var target = await WatchTarget.StartKubeBrainAsync();
        try
        {
            await using (var session = target.Open())
            {
                var id = (await session.CreateAsync(OnKey("/stop"))).WatchId;
                await PutAsync(target.Kv, "/stop", "x");
                await session.ReadEventsAsync(id, 1);
            }
        }
        catch
        {
            await target.DisposeAsync();
            throw;
        }

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await target.DisposeAsync();

        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(5), $"stopping took {stopping.Elapsed.TotalSeconds:0.0} s");
    }
}

/// <summary>A watch from the start of a history longer than the sequencer's in-memory tail (64 MiB) reads the older part from the store.</summary>
public sealed class KubeBrainLongHistoryWatchTests
{
    [Theory]
    [InlineData(StorageKind.Memory)]
    [InlineData(StorageKind.Sqlite)]
    public async Task AWatchFromBeforeTheInMemoryTail_GetsEveryRevisionOnce_WithPrevKv_AcrossTheSeam(StorageKind storage)
    {
        await using var target = await WatchTarget.StartKubeBrainAsync(storage);
        var p = NewPrefix("beyond-tail");
        // Each revision holds about 2 MB in the tail (its value and the replaced value), so 70 of them overflow
        // the 64 MiB tail by half, and the first revisions can only come from the store.
        var big = new string('x', 1_000_000);
        var values = new Dictionary<long, (string Key, string Value)>();
        for (var i = 0; i < 75; i++)
        {
            var key = $"{p}{i % 5}";
            var value = i < 70 ? $"{i}:{big}" : $"{i}";
            values[await PutAsync(target.Kv, key, value)] = (key, value);
        }
        var first = values.Keys.Min();
        await using var session = target.Open();

        var id = (await session.CreateAsync(OnPrefix(p, start: first, prevKv: true))).WatchId;

        await session.WaitUntilAsync(log => EventsOf(log, id).Count >= values.Count, $"{values.Count} events", TimeSpan.FromSeconds(60));
        var events = EventsOf(session.All, id);
        Assert.Equal(values.Keys.Order(), events.Select(e => e.Kv.ModRevision));
        var latest = new Dictionary<string, (long Create, long Mod, long Version, string Value)>();
        foreach (var e in events)
        {
            var (key, value) = values[e.Kv.ModRevision];
            latest.TryGetValue(key, out var before);
            Assert.Equal((key, value), (S(e.Kv.Key), S(e.Kv.Value)));
            if (before.Mod == 0)
            {
                Assert.Null(e.PrevKv);
                Assert.Equal((e.Kv.ModRevision, 1L), (e.Kv.CreateRevision, e.Kv.Version));
            }
            else
            {
                Assert.NotNull(e.PrevKv);
                Assert.Equal((before.Create, before.Mod, before.Version, before.Value), (e.PrevKv.CreateRevision, e.PrevKv.ModRevision, e.PrevKv.Version, S(e.PrevKv.Value)));
                Assert.Equal((before.Create, before.Version + 1), (e.Kv.CreateRevision, e.Kv.Version));
            }
            latest[key] = (e.Kv.CreateRevision, e.Kv.ModRevision, e.Kv.Version, value);
        }
    }
}

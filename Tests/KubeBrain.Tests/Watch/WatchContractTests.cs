using Google.Protobuf;
using Xunit;
using static KubeBrain.Tests.Watch.WatchKit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Watch;

/// <summary>
/// Watch.Watch as etcd answers it, over a real socket, run against KubeBrain and, as the oracle that proves each
/// expectation is etcd's, against etcd 3.4. Both servers run with --max-request-bytes=16384 and a 1 s
/// progress_notify interval. Tests of a class run one after another, so within a test nothing else writes; each
/// test uses its own keys and only revisions it wrote itself (one test compacts the store).
/// </summary>
public abstract class WatchContract(WatchFixture fixture)
{
    private WatchTarget Target => fixture.Target;

    private Rpc.KV.KVClient Kv => Target.Kv;

    private Task<long> PutAsync(string key, string value) => WatchKit.PutAsync(Kv, key, value);

    private Task<long> DeleteAsync(string key, string? end = null) => WatchKit.DeleteAsync(Kv, key, end);

    private Task<long> CurrentAsync() => CurrentRevisionAsync(Kv);

    [Fact]
    public async Task Create_OnOneKey_DeliversOnlyThatKey_WithFullKvOnPutAndKeyAndRevisionOnDelete()
    {
        var p = NewPrefix("single");
        await using var session = Target.Open();
        var current = await CurrentAsync();

        var created = await session.CreateAsync(OnKey(p + "a"));

        AssertResponse(Created(created.WatchId, current), created);
        var r1 = await PutAsync(p + "a", "1");
        await PutAsync(p + "ab", "x");
        await PutAsync(p + "b", "y");
        var r2 = await PutAsync(p + "a", "2");
        var r3 = await DeleteAsync(p + "a");
        var responses = new List<Rpc.WatchResponse>();
        while (EventsOf(responses, created.WatchId).Count < 3)
        {
            responses.Add(await session.NextAsync());
        }
        AssertEvents(
            [PutEvent(Kv(p + "a", "1", r1, r1, 1)), PutEvent(Kv(p + "a", "2", r1, r2, 2)), DeleteEvent(p + "a", r3)],
            EventsOf(responses, created.WatchId));
        AssertWholeRevisions(responses, created.WatchId);
        Assert.Empty(await session.EventBarrierAsync(Kv));
    }

    [Fact]
    public async Task Create_OnRange_DeliversTheHalfOpenInterval()
    {
        var p = NewPrefix("range");
        await using var session = Target.Open();
        var created = await session.CreateAsync(OnRange(p + "b", p + "d"));

        await PutAsync(p + "a", "-");
        var rb = await PutAsync(p + "b", "1");
        var rbz = await PutAsync(p + "bz", "2");
        var rc = await PutAsync(p + "c", "3");
        await PutAsync(p + "d", "-");
        await PutAsync(p + "e", "-");

        var events = await session.ReadEventsAsync(created.WatchId, 3);
        AssertEvents([PutEvent(Kv(p + "b", "1", rb, rb, 1)), PutEvent(Kv(p + "bz", "2", rbz, rbz, 1)), PutEvent(Kv(p + "c", "3", rc, rc, 1))], events);
        Assert.Empty(await session.EventBarrierAsync(Kv));
    }

    [Fact]
    public async Task Create_OnPrefix_DeliversEveryKeyUnderIt()
    {
        var p = NewPrefix("prefix");
        await using var session = Target.Open();
        var created = await session.CreateAsync(OnPrefix(p));

        var r1 = await PutAsync(p + "x", "1");
        await PutAsync(p[..^1], "the prefix without its slash");
        await PutAsync(p[..^1] + "0", "the prefix end");
        var r2 = await PutAsync(p + "deep/er/key", "2");
        var r3 = await DeleteAsync(p + "x");

        var events = await session.ReadEventsAsync(created.WatchId, 3);
        AssertEvents([PutEvent(Kv(p + "x", "1", r1, r1, 1)), PutEvent(Kv(p + "deep/er/key", "2", r2, r2, 1)), DeleteEvent(p + "x", r3)], events);
        Assert.Empty(await session.EventBarrierAsync(Kv));
    }

    [Theory]
    [InlineData("\0")]
    [InlineData("")]
    public async Task Create_OnEverything_DeliversEveryKey(string key)
    {
        var p = NewPrefix("everything");
        var other = $"/other-{Guid.NewGuid():N}";
        await using var session = Target.Open();
        var created = await session.CreateAsync(new Rpc.WatchCreateRequest { Key = B(key), RangeEnd = ByteString.CopyFrom(0) });

        var r1 = await PutAsync(p + "x", "1");
        var r2 = await PutAsync(other, "2");
        var r3 = await DeleteAsync(p + "x");

        // Nothing else writes meanwhile, so the next three responses are exactly these revisions.
        var events = await session.ReadEventsAsync(created.WatchId, 3);
        AssertEvents([PutEvent(Kv(p + "x", "1", r1, r1, 1)), PutEvent(Kv(other, "2", r2, r2, 1)), DeleteEvent(p + "x", r3)], events);
    }

    [Fact]
    public async Task Create_WithAnEmptyKeyAndNoRangeEnd_WatchesOnlyTheKeyZero()
    {
        await using var session = Target.Open();
        var created = await session.CreateAsync(new Rpc.WatchCreateRequest());

        await PutAsync("\0a", "not watched");
        var written = await Kv.PutAsync(new Rpc.PutRequest { Key = ByteString.CopyFrom(0), Value = B("zero") });

        var response = await session.NextAsync();
        Assert.Equal(created.WatchId, response.WatchId);
        var e = Assert.Single(response.Events);
        Assert.Equal((ByteString.CopyFrom(0), "zero", written.Header.Revision), (e.Kv.Key, S(e.Kv.Value), e.Kv.ModRevision));
    }

    [Fact]
    public async Task Create_WithARangeEndNotAfterTheKey_IsRefusedAsAnEmptyRange()
    {
        var p = NewPrefix("empty-range");
        await using var session = Target.Open();
        var current = await CurrentAsync();

        var before = await session.CreateAsync(OnRange(p + "b", p + "a"));
        var equal = await session.CreateAsync(OnRange(p + "b", p + "b"));

        AssertResponse(Refused(current, EmptyRange), before);
        AssertResponse(Refused(current, EmptyRange), equal);
        await PutAsync(p + "b", "x");
        Assert.Empty(await session.EventBarrierAsync(Kv));
    }

    [Fact]
    public async Task StartRevisionZero_StartsAfterTheCreatedHeaderRevision_WhichIsTheCurrentRevision()
    {
        var p = NewPrefix("from-now");
        await using var session = Target.Open();
        var before = await PutAsync(p + "k", "before");

        var created = await session.CreateAsync(OnPrefix(p));

        AssertResponse(Created(created.WatchId, before), created);
        Assert.Equal(before, await CurrentAsync());
        var after = await PutAsync(p + "k", "after");
        var events = await session.ReadEventsAsync(created.WatchId, 1);
        AssertEvents([PutEvent(Kv(p + "k", "after", before, after, 2))], events);
    }

    [Fact]
    public async Task PastStartRevision_ReplaysTheHistoryInOrder_WithPrevKv()
    {
        var p = NewPrefix("history");
        await using var session = Target.Open();
        var a1 = await PutAsync(p + "a", "a1");
        var b1 = await PutAsync(p + "b", "b1");
        var a2 = await PutAsync(p + "a", "a2");
        var bGone = await DeleteAsync(p + "b");
        var txn = (await Kv.TxnAsync(new Rpc.TxnRequest
        {
            Success =
            {
                new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = B(p + "c"), Value = B("c1") } },
                new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = B(p + "a"), Value = B("a3") } },
            },
        })).Header.Revision;
        var current = await CurrentAsync();

        var created = await session.CreateAsync(OnPrefix(p, start: b1, prevKv: true));

        AssertResponse(Created(created.WatchId, current), created);
        await session.WaitUntilAsync(log => EventsOf(log, created.WatchId).Count >= 5, "the replayed history");
        AssertEvents(
            [
                PutEvent(Kv(p + "b", "b1", b1, b1, 1)),
                PutEvent(Kv(p + "a", "a2", a1, a2, 2), Kv(p + "a", "a1", a1, a1, 1)),
                DeleteEvent(p + "b", bGone, Kv(p + "b", "b1", b1, b1, 1)),
                PutEvent(Kv(p + "c", "c1", txn, txn, 1)),
                PutEvent(Kv(p + "a", "a3", a1, txn, 3), Kv(p + "a", "a2", a1, a2, 2)),
            ],
            EventsOf(session.All, created.WatchId));
        // The replayed revisions are followed by live ones, without a gap or a repeat.
        var live = await PutAsync(p + "c", "c2");
        await session.WaitUntilAsync(log => EventsOf(log, created.WatchId).Count >= 6, "the live event after the history");
        AssertEvents([PutEvent(Kv(p + "c", "c2", txn, live, 2), Kv(p + "c", "c1", txn, txn, 1))], EventsOf(session.All, created.WatchId).Skip(5));
    }

    [Fact]
    public async Task PastStartRevision_ReplaysALongHistoryWhole()
    {
        const int writes = 1200;
        var p = NewPrefix("long-history");
        var revisions = new long[writes];
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            for (var i = Interlocked.Increment(ref next); i < writes; i = Interlocked.Increment(ref next))
            {
                revisions[i] = await PutAsync($"{p}{i % 50:D2}", $"v{i}");
            }
        }));
        var first = revisions.Min();
        await using var session = Target.Open();

        var created = await session.CreateAsync(OnPrefix(p, start: first));

        await session.WaitUntilAsync(log => EventsOf(log, created.WatchId).Count >= writes, $"{writes} replayed events", TimeSpan.FromSeconds(30));
        var events = EventsOf(session.All, created.WatchId);
        Assert.Equal(revisions.Order(), events.Select(e => e.Kv.ModRevision));
        Assert.All(events, e => Assert.Equal($"v{Array.IndexOf(revisions, e.Kv.ModRevision)}", S(e.Kv.Value)));
        Assert.Equal(writes, events.Count);
    }

    [Fact]
    public async Task AClientThatDoesNotRead_StallsNobodyElse_AndLaterGetsEveryEventOnceInOrder()
    {
        const int writes = 10_000;
        const int slowWatchers = 10;
        var p = NewPrefix("slow-reader");
        using var slow = Target.Watch.Watch(deadline: DateTime.UtcNow.AddMinutes(2));
        for (var i = 0; i < slowWatchers; i++)
        {
            await slow.RequestStream.WriteAsync(new Rpc.WatchRequest { CreateRequest = OnPrefix(p, id: i + 1) });
        }
        for (var i = 0; i < slowWatchers; i++)
        {
            Assert.True(await slow.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(WatchSession.DefaultWait) && slow.ResponseStream.Current.Created);
        }
        await using var fast = Target.Open();
        var fastId = (await fast.CreateAsync(OnPrefix(p))).WatchId;

        // 10,000 revisions the slow client does not read: more than its stream's buffers and the server's send queue
        // (8192 revisions).
        var revisions = new long[writes];
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            for (var i = Interlocked.Increment(ref next); i < writes; i = Interlocked.Increment(ref next))
            {
                revisions[i] = await PutAsync($"{p}{i % 100:D2}", $"v{i}");
            }
        }));
        await fast.WaitUntilAsync(log => EventsOf(log, fastId).Count >= writes, "every event on the reading stream", TimeSpan.FromSeconds(30));

        var events = Enumerable.Range(1, slowWatchers).ToDictionary(id => (long)id, _ => new List<long>());
        var caughtUp = 0;
        using var reading = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (events.Values.Sum(e => e.Count) < writes * slowWatchers && await slow.ResponseStream.MoveNext(reading.Token))
        {
            var response = slow.ResponseStream.Current;
            events[response.WatchId].AddRange(response.Events.Select(e => e.Kv.ModRevision));
            caughtUp += response.Events.Count > 0 && response.Header.Revision > response.Events.Max(e => e.Kv.ModRevision) ? 1 : 0;
        }
        Assert.All(events.Values, e => Assert.Equal(revisions.Order(), e));
        Assert.Equal(revisions.Order(), EventsOf(fast.All, fastId).Select(e => e.Kv.ModRevision));
        // Proof that the test overflowed the server's buffers: both servers then catch the watchers up from history,
        // in responses whose header carries the newer current revision.
        Assert.True(caughtUp > 0, "no watcher of the slow stream was caught up from history");
    }

    [Fact]
    public async Task FutureStartRevision_WaitsForThatRevision()
    {
        var p = NewPrefix("future");
        await using var session = Target.Open();
        var current = await CurrentAsync();

        var created = await session.CreateAsync(OnPrefix(p, start: current + 3));

        AssertResponse(Created(created.WatchId, current), created);
        var revisions = new List<long>();
        for (var i = 1; i <= 5; i++)
        {
            revisions.Add(await PutAsync(p + "k", $"v{i}"));
        }
        Assert.Equal(current + 5, revisions[^1]);
        var events = await session.ReadEventsAsync(created.WatchId, 3);
        Assert.Equal([current + 3, current + 4, current + 5], events.Select(e => e.Kv.ModRevision));
        Assert.Equal(["v3", "v4", "v5"], events.Select(e => S(e.Kv.Value)));
    }

    [Fact]
    public async Task PrevKv_IsTheReplacedVersion_OnPutAndDelete_AndAbsentWithoutTheOption()
    {
        var p = NewPrefix("prev-kv");
        await using var session = Target.Open();
        var with = await session.CreateAsync(OnPrefix(p, prevKv: true));
        var without = await session.CreateAsync(OnPrefix(p));

        var r1 = await PutAsync(p + "k", "v1");
        var r2 = await PutAsync(p + "k", "v2");
        var r3 = await DeleteAsync(p + "k");
        var r4 = await PutAsync(p + "k", "again");

        await session.WaitUntilAsync(log => EventsOf(log, with.WatchId).Count >= 4 && EventsOf(log, without.WatchId).Count >= 4, "four events on each watch");
        AssertEvents(
            [
                PutEvent(Kv(p + "k", "v1", r1, r1, 1)),
                PutEvent(Kv(p + "k", "v2", r1, r2, 2), Kv(p + "k", "v1", r1, r1, 1)),
                DeleteEvent(p + "k", r3, Kv(p + "k", "v2", r1, r2, 2)),
                PutEvent(Kv(p + "k", "again", r4, r4, 1)),
            ],
            EventsOf(session.All, with.WatchId));
        AssertEvents(
            [PutEvent(Kv(p + "k", "v1", r1, r1, 1)), PutEvent(Kv(p + "k", "v2", r1, r2, 2)), DeleteEvent(p + "k", r3), PutEvent(Kv(p + "k", "again", r4, r4, 1))],
            EventsOf(session.All, without.WatchId));
    }

    [Fact]
    public async Task Filters_NoPutAndNoDelete_DropThoseEvents()
    {
        var p = NewPrefix("filters");
        await using var session = Target.Open();
        var noPut = OnPrefix(p);
        noPut.Filters.Add(Rpc.WatchCreateRequest.Types.FilterType.Noput);
        var noDelete = OnPrefix(p);
        noDelete.Filters.Add(Rpc.WatchCreateRequest.Types.FilterType.Nodelete);
        var both = OnPrefix(p);
        both.Filters.Add(Rpc.WatchCreateRequest.Types.FilterType.Noput);
        both.Filters.Add(Rpc.WatchCreateRequest.Types.FilterType.Nodelete);
        var onlyDeletes = (await session.CreateAsync(noPut)).WatchId;
        var onlyPuts = (await session.CreateAsync(noDelete)).WatchId;
        var nothing = (await session.CreateAsync(both)).WatchId;

        var r1 = await PutAsync(p + "a", "1");
        var r2 = await DeleteAsync(p + "a");
        var r3 = await PutAsync(p + "b", "2");
        var r4 = await DeleteAsync(p + "b");

        var responses = await session.EventBarrierAsync(Kv);
        AssertEvents([DeleteEvent(p + "a", r2), DeleteEvent(p + "b", r4)], EventsOf(responses, onlyDeletes));
        AssertEvents([PutEvent(Kv(p + "a", "1", r1, r1, 1)), PutEvent(Kv(p + "b", "2", r3, r3, 1))], EventsOf(responses, onlyPuts));
        Assert.DoesNotContain(responses, r => r.WatchId == nothing);
        Assert.Equal(4, responses.Count);
    }

    [Fact]
    public async Task ProgressNotify_OnAnIdleWatcher_SendsAnEmptyResponseAtTheCurrentRevision()
    {
        var p = NewPrefix("progress-notify");
        await using var session = Target.Open();
        var create = OnPrefix(p);
        create.ProgressNotify = true;
        var id = (await session.CreateAsync(create)).WatchId;
        var written = await PutAsync(p + "k", "v");

        // A notification may precede the event (it was due before the write); it then reports an older revision.
        var (early, _) = await session.NextMatchingAsync(r => r.Events.Count > 0, "the event");
        Assert.All(early, r => Assert.True(r.WatchId == id && r.Events.Count == 0 && r.Header.Revision < written, Text(r)));
        var notification = await session.NextAsync(WatchTarget.ProgressInterval * 5);

        AssertResponse(Notice(id, await CurrentAsync()), notification);
    }

    [Fact]
    public async Task ProgressRequest_WhenEveryWatcherIsSynced_IsAnsweredWithIdMinusOneAtTheCurrentRevision()
    {
        var p = NewPrefix("progress-request");
        await using var session = Target.Open();
        var id = (await session.CreateAsync(OnPrefix(p))).WatchId;
        await PutAsync(p + "a", "1");
        await PutAsync(p + "b", "2");
        await session.ReadEventsAsync(id, 2);

        var (before, progress) = await RequestProgressAsync(session);

        Assert.Empty(before);
        AssertResponse(Notice(-1, await CurrentAsync()), progress);
    }

    [Fact]
    public async Task ProgressRequest_AfterAWatcherFromThePastCaughtUp_OnAnIdleStore_IsAnswered()
    {
        var p = NewPrefix("progress-after-catch-up");
        var first = await PutAsync(p + "a", "1");
        await PutAsync(p + "b", "2");
        await PutAsync(p + "c", "3");
        await using var session = Target.Open();
        var id = (await session.CreateAsync(OnPrefix(p, start: first))).WatchId;
        await session.ReadEventsAsync(id, 3);

        // No write follows: the watcher has everything, so the stream is synced and must say so when asked.
        var (_, progress) = await RequestProgressAsync(session);

        AssertResponse(Notice(-1, await CurrentAsync()), progress);
    }

    [Fact]
    public async Task Fragment_SplitsARevisionLargerThanTheRequestLimit_AndTheFragmentsReassembleIt()
    {
        const int keys = 80;
        var p = NewPrefix("fragment");
        var value = new string('v', 8000);
        var written = new Dictionary<string, long>();
        for (var i = 0; i < keys; i++)
        {
            written[$"{p}{i:D2}"] = await PutAsync($"{p}{i:D2}", value);
        }
        await using var session = Target.Open();
        var fragmented = OnPrefix(p, prevKv: true);
        fragmented.Fragment = true;
        var split = (await session.CreateAsync(fragmented)).WatchId;
        var whole = (await session.CreateAsync(OnPrefix(p, prevKv: true))).WatchId;

        var deleted = await DeleteAsync(p, S(PrefixEnd(p)));

        await session.WaitUntilAsync(
            log => log.Any(r => r.WatchId == split && !r.Fragment && r.Events.Count > 0) && log.Any(r => r.WatchId == whole && r.Events.Count > 0),
            "the last fragment and the whole response");
        var pieces = session.All.Where(r => r.WatchId == split && r.Events.Count > 0).ToList();
        Assert.True(pieces.Count >= 2, $"{pieces.Count} responses");
        Assert.All(pieces[..^1], r => Assert.True(r.Fragment));
        Assert.False(pieces[^1].Fragment);
        Assert.All(pieces, r => Assert.Equal(deleted, r.Header.Revision));
        // etcd cuts a fragment before it reaches max-request-bytes plus its 512 KiB gRPC allowance.
        Assert.All(pieces, r => Assert.True(r.Events.Count == 1 || r.CalculateSize() < Target.MaxRequestBytes + WatchTarget.GrpcOverheadBytes, $"{r.CalculateSize()} bytes"));
        var expected = written.OrderBy(w => w.Key, StringComparer.Ordinal).Select(w => DeleteEvent(w.Key, deleted, Kv(w.Key, value, w.Value, w.Value, 1))).ToList();
        AssertEvents(expected, pieces.SelectMany(r => r.Events));
        var unsplit = Assert.Single(session.All, r => r.WatchId == whole && r.Events.Count > 0);
        Assert.False(unsplit.Fragment);
        AssertEvents(expected, unsplit.Events);
    }

    [Fact]
    public async Task ClientChosenWatchId_IsHonoured_AndADuplicateOnTheStreamIsRefused()
    {
        var p = NewPrefix("watch-id");
        await using var session = Target.Open();
        var current = await CurrentAsync();

        var seven = await session.CreateAsync(OnKey(p + "a", id: 7));
        var duplicate = await session.CreateAsync(OnKey(p + "b", id: 7));
        var auto0 = await session.CreateAsync(OnKey(p + "c"));
        var auto1 = await session.CreateAsync(OnKey(p + "d"));
        var duplicateOfAuto = await session.CreateAsync(OnKey(p + "e", id: 1));

        AssertResponse(Created(7, current), seven);
        AssertResponse(Refused(current, DuplicateId), duplicate);
        AssertResponse(Created(0, current), auto0);
        AssertResponse(Created(1, current), auto1);
        AssertResponse(Refused(current, DuplicateId), duplicateOfAuto);
        var ra = await PutAsync(p + "a", "1");
        await PutAsync(p + "b", "2");
        await PutAsync(p + "e", "3");
        var responses = await session.EventBarrierAsync(Kv);
        var response = Assert.Single(responses);
        Assert.Equal(7, response.WatchId);
        AssertEvents([PutEvent(Kv(p + "a", "1", ra, ra, 1))], response.Events);
    }

    [Fact]
    public async Task CreatedReplies_SentBackToBack_ComeInRequestOrder()
    {
        const int watches = 100;
        var p = NewPrefix("fifo");
        await using var session = Target.Open();

        for (var i = 0; i < watches; i++)
        {
            await session.SendCreateAsync(OnKey($"{p}{i:D3}"));
        }
        var created = new List<Rpc.WatchResponse>();
        for (var i = 0; i < watches; i++)
        {
            created.Add(await session.NextAsync());
        }

        Assert.All(created, r => Assert.True(r.Created && !r.Canceled, Text(r)));
        Assert.Equal(Enumerable.Range(0, watches).Select(i => (long)i), created.Select(r => r.WatchId));
        // The i-th reply is the watch on the i-th key: one transaction writes every key.
        var txn = new Rpc.TxnRequest();
        txn.Success.Add(Enumerable.Range(0, watches).Select(i => new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = B($"{p}{i:D3}"), Value = B($"{i}") } }));
        await Kv.TxnAsync(txn);
        await session.WaitUntilAsync(log => log.Count(r => r.Events.Count > 0) >= watches, "one event per watch");
        foreach (var response in session.All.Where(r => r.Events.Count > 0))
        {
            Assert.Equal($"{p}{response.WatchId:D3}", S(Assert.Single(response.Events).Kv.Key));
        }
    }

    [Fact]
    public async Task OneRevision_IsOneResponse_ForAMultiKeyTxnAndAPrefixDelete()
    {
        var p = NewPrefix("atomic");
        await using var session = Target.Open();
        var id = (await session.CreateAsync(OnPrefix(p))).WatchId;
        var z = await PutAsync(p + "z", "z");
        var txn = (await Kv.TxnAsync(new Rpc.TxnRequest
        {
            Success =
            {
                new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = B(p + "c"), Value = B("c") } },
                new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = B(p + "a"), Value = B("a") } },
                new Rpc.RequestOp { RequestDeleteRange = new Rpc.DeleteRangeRequest { Key = B(p + "z") } },
                new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = B(p + "b"), Value = B("b") } },
            },
        })).Header.Revision;
        var deleted = await DeleteAsync(p, S(PrefixEnd(p)));

        await session.WaitUntilAsync(log => EventsOf(log, id).Count >= 8, "the three revisions' events");

        AssertEvents(
            [
                PutEvent(Kv(p + "z", "z", z, z, 1)),
                // A transaction's events come in the order of its operations.
                PutEvent(Kv(p + "c", "c", txn, txn, 1)), PutEvent(Kv(p + "a", "a", txn, txn, 1)), DeleteEvent(p + "z", txn), PutEvent(Kv(p + "b", "b", txn, txn, 1)),
                DeleteEvent(p + "a", deleted), DeleteEvent(p + "b", deleted), DeleteEvent(p + "c", deleted),
            ],
            EventsOf(session.All, id));
        AssertWholeRevisions(session.All, id);
    }

    [Fact]
    public async Task OneRevision_IsOneResponse_ForATxnOverSeveralKeyRanges()
    {
        var ns = Guid.NewGuid().ToString("N");
        string[] keys = [$"/registry/pods/{ns}/p", $"/registry/services/specs/{ns}/s", $"/plain-{ns}"];
        await using var session = Target.Open();
        var id = (await session.CreateAsync(new Rpc.WatchCreateRequest { Key = ByteString.CopyFrom(0), RangeEnd = ByteString.CopyFrom(0) })).WatchId;

        var txn = new Rpc.TxnRequest();
        txn.Success.Add(keys.Select(k => new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = B(k), Value = B("v") } }));
        var revision = (await Kv.TxnAsync(txn)).Header.Revision;
        // One delete over the three ranges (nothing else of this class lives in that interval).
        var gone = await DeleteAsync(keys[2], keys[1] + "0");

        await session.WaitUntilAsync(log => EventsOf(log, id).Count >= 6, "the two revisions' events");

        AssertEvents(
            [.. keys.Select(k => PutEvent(Kv(k, "v", revision, revision, 1))), .. keys.Order(StringComparer.Ordinal).Select(k => DeleteEvent(k, gone))],
            EventsOf(session.All, id));
        AssertWholeRevisions(session.All, id);
    }

    [Fact]
    public async Task Lease_APutCarriesItsLease_AndRevokingItDeletesItsKeysInOneResponse()
    {
        var p = NewPrefix("lease");
        await using var session = Target.Open();
        var id = (await session.CreateAsync(OnPrefix(p, prevKv: true))).WatchId;
        var lease = (await Target.Lease.LeaseGrantAsync(new Rpc.LeaseGrantRequest { TTL = 600 })).ID;

        var ra = (await Kv.PutAsync(new Rpc.PutRequest { Key = B(p + "a"), Value = B("1"), Lease = lease })).Header.Revision;
        var rb = (await Kv.PutAsync(new Rpc.PutRequest { Key = B(p + "b"), Value = B("2"), Lease = lease })).Header.Revision;
        await Target.Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = lease });

        await session.WaitUntilAsync(log => EventsOf(log, id).Count >= 4, "the two puts and the two deletes");
        var a = Kv(p + "a", "1", ra, ra, 1);
        a.Lease = lease;
        var b = Kv(p + "b", "2", rb, rb, 1);
        b.Lease = lease;
        AssertEvents([PutEvent(a), PutEvent(b), DeleteEvent(p + "a", rb + 1, a), DeleteEvent(p + "b", rb + 1, b)], EventsOf(session.All, id));
        AssertWholeRevisions(session.All, id);
        Assert.Equal(rb + 1, await CurrentAsync());
    }

    [Fact]
    public async Task Cancel_IsAnsweredWithCanceled_AndEndsTheEvents_AndAnUnknownIdIsIgnored()
    {
        var p = NewPrefix("cancel");
        await using var session = Target.Open();
        var id = (await session.CreateAsync(OnPrefix(p))).WatchId;
        await PutAsync(p + "a", "1");
        await session.ReadEventsAsync(id, 1);

        await session.SendCancelAsync(id);
        var canceled = await session.NextAsync();

        AssertResponse(Canceled(id, await CurrentAsync()), canceled);
        await PutAsync(p + "b", "2");
        Assert.Empty(await session.EventBarrierAsync(Kv));
        await session.SendCancelAsync(id);
        await session.SendCancelAsync(4242);
        Assert.Empty(await session.RequestBarrierAsync());
    }

    [Fact]
    public async Task StartBelowTheCompactionRevision_IsCanceledWithTheCompactRevision()
    {
        var p = NewPrefix("compacted");
        var r1 = await PutAsync(p + "k", "v1");
        var r2 = await PutAsync(p + "k", "v2");
        var r3 = await PutAsync(p + "k", "v3");
        await Kv.CompactAsync(new Rpc.CompactionRequest { Revision = r2 });
        await using var session = Target.Open();

        var created = await session.CreateAsync(OnPrefix(p, start: r1));
        var canceled = await session.NextAsync();

        AssertResponse(Created(created.WatchId, r3), created);
        var expected = Canceled(created.WatchId, 0);
        expected.CompactRevision = r2;
        AssertResponse(expected, canceled);
        // At exactly the compaction revision the history is still there.
        var atCompaction = await session.CreateAsync(OnPrefix(p, start: r2));
        var events = await session.ReadEventsAsync(atCompaction.WatchId, 2);
        AssertEvents([PutEvent(Kv(p + "k", "v2", r1, r2, 2)), PutEvent(Kv(p + "k", "v3", r1, r3, 3))], events);
    }

    [Fact]
    public async Task ClosingTheStream_ReleasesItsWatchers_AndTheServerKeepsServing()
    {
        var p = NewPrefix("close");
        await using (var closed = Target.Open())
        {
            for (var i = 0; i < 10; i++)
            {
                await closed.CreateAsync(OnPrefix(p, prevKv: i % 2 == 0));
            }
            await PutAsync(p + "before", "x");
            await closed.WaitUntilAsync(log => log.Count(r => r.Events.Count > 0) == 10, "the event on every watch");
        }

        // Writes after the close go nowhere; a new stream on the same prefix works from the start.
        for (var i = 0; i < 50; i++)
        {
            await PutAsync($"{p}after-close-{i}", "x");
        }
        await using var session = Target.Open();
        var created = await session.CreateAsync(OnPrefix(p));
        Assert.Equal(0, created.WatchId);
        var r = await PutAsync(p + "new", "y");
        var events = await session.ReadEventsAsync(created.WatchId, 1);
        AssertEvents([PutEvent(Kv(p + "new", "y", r, r, 1))], events);
    }

    [Fact]
    public async Task AStreamWhoseClientStoppedSending_KeepsDeliveringEvents()
    {
        var p = NewPrefix("half-closed");
        await using var session = Target.Open();
        var id = (await session.CreateAsync(OnPrefix(p))).WatchId;

        await session.CompleteRequestsAsync();
        var r = await PutAsync(p + "k", "v");

        AssertEvents([PutEvent(Kv(p + "k", "v", r, r, 1))], await session.ReadEventsAsync(id, 1));
    }
}

public sealed class WatchContractTests(KubeBrainWatchFixture fixture) : WatchContract(fixture), IClassFixture<KubeBrainWatchFixture>;

public sealed class WatchContractTestsOnEtcd(EtcdWatchFixture fixture) : WatchContract(fixture), IClassFixture<EtcdWatchFixture>;

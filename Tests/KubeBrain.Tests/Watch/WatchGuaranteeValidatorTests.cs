using Google.Protobuf;
using Xunit;
using static KubeBrain.Tests.Watch.WatchKit;
using Mvcc = KubeBrain.Protos.Mvccpb;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Watch;

/// <summary>
/// The validator itself: it accepts a correct stream and reports each kind of broken guarantee, so that a passing
/// randomized, scale or failover test means something.
/// </summary>
public sealed class WatchGuaranteeValidatorTests
{
    // Revision 2: put a=1. Revision 3: put a=2, put b=1. Revision 4: delete a. Revision 5: put c=1.
    private static readonly Mvcc.KeyValue A1 = Kv("a", "1", 2, 2, 1);
    private static readonly Mvcc.KeyValue A2 = Kv("a", "2", 2, 3, 2);
    private static readonly Mvcc.KeyValue B1 = Kv("b", "1", 3, 3, 1);
    private static readonly Mvcc.KeyValue C1 = Kv("c", "1", 5, 5, 1);

    private static readonly WatchHistory History = WatchHistory.Of(2, 5,
    [
        new HistoryEvent(2, false, A1, null),
        new HistoryEvent(3, false, A2, A1),
        new HistoryEvent(3, false, B1, null),
        new HistoryEvent(4, true, new Mvcc.KeyValue { Key = B("a"), ModRevision = 4 }, A2),
        new HistoryEvent(5, false, C1, null),
    ]);

    private static readonly ObservedWatcher Everything = new(0, 1, ByteString.CopyFrom(0), ByteString.CopyFrom(0), 2, PrevKv: true);

    private static Rpc.WatchResponse Events(long header, params Mvcc.Event[] events)
    {
        var response = new Rpc.WatchResponse { Header = new Rpc.ResponseHeader { Revision = header }, WatchId = 1 };
        response.Events.Add(events);
        return response;
    }

    private static List<Rpc.WatchResponse> CorrectStream() =>
    [
        Created(1, 1),
        Events(2, PutEvent(A1)),
        Events(3, PutEvent(A2, A1), PutEvent(B1)),
        Events(4, DeleteEvent("a", 4, A2)),
        Notice(-1, 4),
        Events(5, PutEvent(C1)),
    ];

    private static List<string> Validate(List<Rpc.WatchResponse> stream, ObservedWatcher? watcher = null) =>
        new WatchGuaranteeValidator(History).Validate([stream], [watcher ?? Everything]);

    private static void AssertReported(string expected, List<Rpc.WatchResponse> stream, ObservedWatcher? watcher = null)
    {
        var problems = Validate(stream, watcher);
        Assert.True(problems.Any(p => p.Contains(expected, StringComparison.Ordinal)), $"expected a problem with \"{expected}\", got:\n{string.Join("\n", problems)}");
    }

    [Fact]
    public void ACorrectStream_HasNoProblems()
    {
        Assert.Empty(Validate(CorrectStream()));
        // Several revisions in one response (etcd's catch-up batches) are fine.
        Assert.Empty(Validate([Created(1, 5), Events(5, PutEvent(A1), PutEvent(A2, A1), PutEvent(B1)), Events(5, DeleteEvent("a", 4, A2), PutEvent(C1))]));
    }

    [Fact]
    public void AMissingRevision_IsReported_AndSoIsTheProgressThatClaimsIt()
    {
        var stream = CorrectStream();
        stream.RemoveAt(3);

        AssertReported("missing (reliable)", stream);
        AssertReported("progress at revision 4 (response 3) came before 1 of its events", stream);
    }

    [Fact]
    public void ADuplicate_IsReported() =>
        AssertReported("duplicate event at revision 2", [.. CorrectStream().Take(2), Events(2, PutEvent(A1)), .. CorrectStream().Skip(2)]);

    [Fact]
    public void ARevisionSplitOverTwoResponses_IsReported()
    {
        var stream = CorrectStream();
        stream[2] = Events(3, PutEvent(A2, A1));
        stream.Insert(3, Events(3, PutEvent(B1)));

        AssertReported("starts at revision 3, not after the previous response's 3", stream);
    }

    [Fact]
    public void AnIncompleteRevision_IsReported()
    {
        var stream = CorrectStream();
        stream[2] = Events(3, PutEvent(A2, A1));

        AssertReported("revision 3 was delivered without 1 of its events", stream);
    }

    [Fact]
    public void RevisionsOutOfOrder_AreReported()
    {
        var stream = CorrectStream();
        (stream[3], stream[5]) = (stream[5], stream[3]);

        AssertReported("starts at revision 4, not after the previous response's 5", stream);
    }

    [Fact]
    public void AWrongPrevKv_IsReported()
    {
        var stream = CorrectStream();
        stream[2] = Events(3, PutEvent(A2, A2), PutEvent(B1));

        AssertReported("prev_kv at revision 3 for a", stream);
    }

    [Fact]
    public void FirstResponsesWithoutPrevKv_PassOnlyWhereItMayStartLate()
    {
        var late = CorrectStream();
        late[2] = Events(3, PutEvent(A2), PutEvent(B1));
        var lenient = new WatchGuaranteeValidator(History, prevKvMayStartLate: true);

        Assert.Empty(lenient.Validate([late], [Everything]));
        AssertReported("prev_kv at revision 3 for a is absent", late);

        // Once a response carried prev_kv, every later one must.
        var dropped = CorrectStream();
        dropped[3] = Events(4, DeleteEvent("a", 4));
        Assert.Contains(lenient.Validate([dropped], [Everything]), p => p.Contains("prev_kv at revision 4 for a is absent", StringComparison.Ordinal));
    }

    [Fact]
    public void APrevKvNobodyAskedFor_IsReported() =>
        AssertReported("prev_kv at revision 3 for a", CorrectStream(), Everything with { PrevKv = false });

    [Fact]
    public void AWrongIsCreate_IsReported()
    {
        var stream = CorrectStream();
        stream[1] = Events(2, PutEvent(Kv("a", "1", 1, 2, 1)));

        AssertReported("IsCreate wrong at revision 2", stream);
    }

    [Fact]
    public void ADeleteCarryingMoreThanKeyAndRevision_IsReported()
    {
        var stream = CorrectStream();
        stream[3] = Events(4, new Mvcc.Event { Type = Mvcc.Event.Types.EventType.Delete, Kv = Kv("a", "2", 2, 4, 2), PrevKv = A2 });

        AssertReported("differs from the history's", stream);
    }

    [Fact]
    public void AnEventOutsideTheSpan_IsReported() =>
        AssertReported("unexpected event", CorrectStream(), Everything with { Key = B("a"), RangeEnd = B("b") });

    [Fact]
    public void AnEarlyBookmark_IsReported()
    {
        var stream = CorrectStream();
        (stream[3], stream[4]) = (stream[4], stream[3]);

        AssertReported("progress at revision 4 (response 3) came before 1 of its events", stream);
    }

    [Fact]
    public void AProgressBelowTheStartRevision_IsReported() =>
        AssertReported("below its start revision 5", [Created(1, 1), Notice(-1, 2), Events(5, PutEvent(C1))], Everything with { RequestedStart = 5 });

    [Fact]
    public void AServerCancel_IsReported() =>
        AssertReported("canceled by the server", [.. CorrectStream().Take(3), Canceled(1, 3)]);
}

using Google.Protobuf;
using KubeBrain.Tests.Differential;
using Xunit;
using Mvcc = KubeBrain.Protos.Mvccpb;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Watch;

/// <summary>Request builders and assertions shared by the watch tests.</summary>
public static class WatchKit
{
    public const string DuplicateId = "mvcc: duplicate watch ID provided on the WatchStream";
    public const string EmptyRange = "mvcc: watcher range is empty";

    public static ByteString B(string text) => ByteString.CopyFromUtf8(text);

    public static string S(ByteString bytes) => bytes.ToStringUtf8();

    /// <summary>A key prefix no other test uses, ending in '/'.</summary>
    public static string NewPrefix(string area) => $"/watch/{area}/{Guid.NewGuid():N}/";

    /// <summary>etcd's prefix range end: the prefix with its last byte incremented.</summary>
    public static ByteString PrefixEnd(string prefix) => Infrastructure.Etcd.PrefixEnd(prefix);

    public static Rpc.WatchCreateRequest OnKey(string key, long start = 0, bool prevKv = false, long id = 0) =>
        new() { Key = B(key), StartRevision = start, PrevKv = prevKv, WatchId = id };

    public static Rpc.WatchCreateRequest OnPrefix(string prefix, long start = 0, bool prevKv = false, long id = 0) =>
        new() { Key = B(prefix), RangeEnd = PrefixEnd(prefix), StartRevision = start, PrevKv = prevKv, WatchId = id };

    public static Rpc.WatchCreateRequest OnRange(string key, string end, long start = 0, bool prevKv = false, long id = 0) =>
        new() { Key = B(key), RangeEnd = B(end), StartRevision = start, PrevKv = prevKv, WatchId = id };

    public static async Task<long> PutAsync(Rpc.KV.KVClient kv, string key, string value) =>
        (await kv.PutAsync(new Rpc.PutRequest { Key = B(key), Value = B(value) })).Header.Revision;

    public static async Task<long> DeleteAsync(Rpc.KV.KVClient kv, string key, string? end = null) =>
        (await kv.DeleteRangeAsync(new Rpc.DeleteRangeRequest { Key = B(key), RangeEnd = end is null ? ByteString.Empty : B(end) })).Header.Revision;

    public static async Task<long> CurrentRevisionAsync(Rpc.KV.KVClient kv) =>
        (await kv.RangeAsync(new Rpc.RangeRequest { Key = B("/watch-revision-probe") })).Header.Revision;

    /// <summary>A response as comparable text: every set field except the member-specific header fields.</summary>
    public static string Text(IMessage message) => ProtoText.Format(ProtoText.WithoutMemberFields(message));

    /// <summary>Asserts a response field by field (cluster_id, member_id and raft_term aside).</summary>
    public static void AssertResponse(Rpc.WatchResponse expected, Rpc.WatchResponse actual) => Assert.Equal(Text(expected), Text(actual));

    /// <summary>A response with only a header at <paramref name="revision"/> and the watch id.</summary>
    public static Rpc.WatchResponse Notice(long watchId, long revision) => new() { Header = new Rpc.ResponseHeader { Revision = revision }, WatchId = watchId };

    public static Rpc.WatchResponse Created(long watchId, long revision)
    {
        var response = Notice(watchId, revision);
        response.Created = true;
        return response;
    }

    public static Rpc.WatchResponse Canceled(long watchId, long revision)
    {
        var response = Notice(watchId, revision);
        response.Canceled = true;
        return response;
    }

    /// <summary>A refused create: created and canceled at once, watch id −1, with the reason.</summary>
    public static Rpc.WatchResponse Refused(long revision, string reason)
    {
        var response = Notice(-1, revision);
        response.Created = true;
        response.Canceled = true;
        response.CancelReason = reason;
        return response;
    }

    public static Mvcc.KeyValue Kv(string key, string value, long createRevision, long modRevision, long version) =>
        new() { Key = B(key), Value = B(value), CreateRevision = createRevision, ModRevision = modRevision, Version = version };

    /// <summary>A PUT event as etcd sends it: the full new key-value, and the replaced one when asked for.</summary>
    public static Mvcc.Event PutEvent(Mvcc.KeyValue kv, Mvcc.KeyValue? prev = null) =>
        new() { Type = Mvcc.Event.Types.EventType.Put, Kv = kv, PrevKv = prev };

    /// <summary>A DELETE event as etcd sends it: only the key and the deleting revision, and the deleted value when asked for.</summary>
    public static Mvcc.Event DeleteEvent(string key, long revision, Mvcc.KeyValue? prev = null) =>
        new() { Type = Mvcc.Event.Types.EventType.Delete, Kv = new Mvcc.KeyValue { Key = B(key), ModRevision = revision }, PrevKv = prev };

    /// <summary>Asserts a list of events field by field.</summary>
    public static void AssertEvents(IEnumerable<Mvcc.Event> expected, IEnumerable<Mvcc.Event> actual) =>
        Assert.Equal(expected.Select(e => Text(e)).ToList(), actual.Select(e => Text(e)).ToList());

    /// <summary>The events of one watch id among responses, in order.</summary>
    public static List<Mvcc.Event> EventsOf(IEnumerable<Rpc.WatchResponse> responses, long watchId) =>
        [.. responses.Where(r => r.WatchId == watchId).SelectMany(r => r.Events)];

    /// <summary>
    /// Asserts etcd's atomicity for one watch: each revision's events travel in one response (a response may carry
    /// several revisions, as etcd's catch-up batches do), and a response's header is not below its events.
    /// </summary>
    public static void AssertWholeRevisions(IEnumerable<Rpc.WatchResponse> responses, long watchId)
    {
        var seen = new HashSet<long>();
        foreach (var response in responses.Where(r => r.WatchId == watchId && r.Events.Count > 0))
        {
            var revisions = response.Events.Select(e => e.Kv.ModRevision).Distinct().ToList();
            Assert.True(revisions.All(seen.Add), $"a revision split over responses: {Text(response)}");
            Assert.True(response.Header.Revision >= revisions.Max(), $"header below the events: {Text(response)}");
        }
    }

    /// <summary>
    /// Sends progress requests, as the apiserver does every 100 ms while it waits, until one is answered; returns
    /// the answer and the responses that came before it.
    /// </summary>
    public static async Task<(List<Rpc.WatchResponse> Before, Rpc.WatchResponse Progress)> RequestProgressAsync(WatchSession session, TimeSpan? wait = null)
    {
        var timeout = wait ?? TimeSpan.FromSeconds(5);
        var deadline = DateTime.UtcNow + timeout;
        var before = new List<Rpc.WatchResponse>();
        while (true)
        {
            await session.SendProgressRequestAsync();
            var attemptEnd = DateTime.UtcNow + TimeSpan.FromMilliseconds(250);
            while (true)
            {
                var remaining = attemptEnd - DateTime.UtcNow;
                if (remaining <= TimeSpan.Zero)
                {
                    break;
                }
                Rpc.WatchResponse next;
                try
                {
                    next = await session.NextAsync(remaining);
                }
                catch (TimeoutException)
                {
                    break;
                }
                if (next.WatchId == -1 && !next.Created)
                {
                    return (before, next);
                }
                before.Add(next);
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no progress response within {timeout.TotalSeconds:0.#} s of asking every 250 ms; responses: {WatchSession.Describe(session.All)}");
            }
        }
    }
}

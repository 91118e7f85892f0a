using System.Globalization;
using System.Text;
using Google.Protobuf;
using KubeBrain.Silo;
using KubeBrain.Tests.Differential;
using Xunit;
using static KubeBrain.Tests.Watch.WatchKit;
using Filter = KubeBrain.Protos.Etcdserverpb.WatchCreateRequest.Types.FilterType;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Watch;

/// <summary>
/// One scripted watch scenario — creates with various options interleaved with puts, deletes, transactions and a
/// compaction, progress requests and cancels, all on one stream — replayed against a fresh etcd 3.4 and a fresh
/// KubeBrain, so revisions line up from 1; the transcripts must be identical.
/// <para>
/// What is compared: every KV response (as in the KV differential), and for every watch id the ordered sequence
/// of what it received — each non-event response whole (created, canceled, compacted, refused, progress; member
/// header fields aside), and each event field by field. Per watch id and not as one sequence, because etcd
/// interleaves the responses of different watch ids in an order that depends on timing (its control responses
/// and its event responses travel on different channels, and watchers of one revision are notified in map order);
/// events flattened, because etcd batches up to 1000 revisions of a catching-up watcher into one response while
/// KubeBrain sends one response per revision (both keep every revision in one response), which also makes the
/// header revision of an event response timing-dependent in both. Fragmenting watchers are left out (etcd cuts at
/// max-request-bytes + 512 KiB). Progress requests are only sent when every watcher of the stream is synced and
/// past its start revision, the only case where etcd 3.4 (which answers at once) and the contract (answer only
/// then, etcd ≥ 3.5) agree.
/// </para>
/// </summary>
public sealed class WatchDifferentialTests
{
    public abstract record Step(string Name);

    /// <summary>A KV request; its response is compared.</summary>
    public sealed record Write(string Name, IMessage Request) : Step(Name);

    /// <summary>A create; the runner waits for its created reply (replies come in request order).</summary>
    public sealed record Create(string Name, Rpc.WatchCreateRequest Request) : Step(Name);

    public sealed record Cancel(string Name, long WatchId) : Step(Name);

    /// <summary>A progress request; the runner waits for its answer (asking again every 250 ms for up to 5 s).</summary>
    public sealed record Progress(string Name) : Step(Name);

    /// <summary>Waits until the watch has an event at <paramref name="Revision"/> or later, or was canceled.</summary>
    public sealed record Await(string Name, long WatchId, long Revision) : Step(Name);

    private static Rpc.WatchCreateRequest Filtered(Rpc.WatchCreateRequest create, params Filter[] filters)
    {
        create.Filters.Add(filters);
        return create;
    }

    private static Rpc.TxnRequest Txn(params Rpc.RequestOp[] ops)
    {
        var txn = new Rpc.TxnRequest();
        txn.Success.Add(ops);
        return txn;
    }

    private static Rpc.RequestOp PutOp(string key, string value) => new() { RequestPut = new Rpc.PutRequest { Key = B(key), Value = B(value) } };

    private static Rpc.RequestOp DeleteOp(string key) => new() { RequestDeleteRange = new Rpc.DeleteRangeRequest { Key = B(key) } };

    private static readonly ByteString Zero = ByteString.CopyFrom(0);

    /// <summary>The scenario; the comment after a write is the revision it makes, after a create the watch id.</summary>
    public static IReadOnlyList<Step> Script() =>
    [
        new Write("put /a/1", Put("/a/1", "a1")), // 2
        new Write("put /a/2", Put("/a/2", "a2")), // 3
        new Create("prefix /a/ from now", OnPrefix("/a/")), // id 0
        new Create("key /a/1 from now with prev_kv", OnKey("/a/1", prevKv: true)), // id 1
        new Write("overwrite /a/1", Put("/a/1", "a1b")), // 4
        new Write("txn: put /a/3, put /b/1, delete /a/2", Txn(PutOp("/a/3", "a3"), PutOp("/b/1", "b1"), DeleteOp("/a/2"))), // 5
        new Create("prefix /a/ from revision 2 with prev_kv", OnPrefix("/a/", start: 2, prevKv: true)), // id 2
        new Create("everything, NOPUT, client id 10", Filtered(new Rpc.WatchCreateRequest { Key = Zero, RangeEnd = Zero, WatchId = 10 }, Filter.Noput)), // id 10
        new Create("range [/a/2, /b/2) NODELETE from future revision 8", Filtered(OnRange("/a/2", "/b/2", start: 8), Filter.Nodelete)), // id 3
        new Await("history replayed", 2, 5),
        new Await("prefix watch live", 0, 5),
        new Await("key watch live", 1, 4),
        new Write("delete /a/1", new Rpc.DeleteRangeRequest { Key = B("/a/1") }), // 6
        new Write("put /b/2", Put("/b/2", "b2")), // 7
        new Write("put /a/4", Put("/a/4", "a4")), // 8
        new Write("put /a/5", Put("/a/5", "a5")), // 9
        new Write("delete prefix /a/ with prev_kv", new Rpc.DeleteRangeRequest { Key = B("/a/"), RangeEnd = B("/a0"), PrevKv = true }), // 10
        new Write("delete of nothing makes no revision", new Rpc.DeleteRangeRequest { Key = B("/a/1") }),
        new Await("prefix watch at 10", 0, 10),
        new Await("history watch at 10", 2, 10),
        new Await("NOPUT watch at 10", 10, 10),
        new Await("future watch at 9", 3, 9),
        new Progress("progress when every watcher is synced"),
        new Cancel("cancel the key watch", 1),
        new Cancel("cancel an unknown id", 99),
        new Create("duplicate client id 10", OnKey("/c", id: 10)),
        new Create("empty range", OnRange("/b", "/a")),
        // Client-chosen ids from here on, so that an id taken or not taken above shifts nothing below.
        new Write("compact at 7", new Rpc.CompactionRequest { Revision = 7 }),
        new Create("prefix /a/ from below the compaction", OnPrefix("/a/", start: 3, id: 20)),
        new Await("compacted watch canceled", 20, long.MaxValue),
        // Revision 7 is a put (etcd 3.4 loses a delete at exactly the compaction revision, #18089; KubeBrain keeps it).
        new Create("everything from the compaction revision with prev_kv", new Rpc.WatchCreateRequest { Key = Zero, RangeEnd = Zero, StartRevision = 7, PrevKv = true, WatchId = 21 }),
        new Await("replay from the compaction revision", 21, 10),
        new Write("txn over several key ranges", Txn(PutOp("/registry/pods/default/p", "p"), PutOp("/registry/services/specs/default/s", "s"), PutOp("/a/6", "a6"))), // 11
        new Write("failed compare-and-swap makes no revision", new Rpc.TxnRequest
        {
            Compare = { new Rpc.Compare { Key = B("/a/6"), Target = Rpc.Compare.Types.CompareTarget.Mod, Result = Rpc.Compare.Types.CompareResult.Equal, ModRevision = 1 } },
            Success = { PutOp("/a/6", "never") },
            Failure = { new Rpc.RequestOp { RequestRange = new Rpc.RangeRequest { Key = B("/a/6") } } },
        }),
        new Write("overwrite /a/6", Put("/a/6", "a6b")), // 12
        new Create("registry prefix from revision 11", OnPrefix("/registry/", start: 11, prevKv: true, id: 22)),
        new Await("prefix watch at 12", 0, 12),
        new Await("history watch at 12", 2, 12),
        new Await("compaction-revision watch at 12", 21, 12),
        new Await("future watch at 12", 3, 12),
        new Await("registry watch at 11", 22, 11),
        new Cancel("cancel the prefix watch", 0),
        new Write("delete /a/6", new Rpc.DeleteRangeRequest { Key = B("/a/6"), PrevKv = true }), // 13
        new Write("delete across key ranges", new Rpc.DeleteRangeRequest { Key = B("/registry/"), RangeEnd = B("/registry0") }), // 14
        new Await("history watch at 13", 2, 13),
        new Await("compaction-revision watch at 14", 21, 14),
        new Await("NOPUT watch at 14", 10, 14),
        new Await("registry watch at 14", 22, 14),
        new Progress("progress at the end"),
    ];

    private static Rpc.PutRequest Put(string key, string value) => new() { Key = B(key), Value = B(value) };

    /// <summary>With a value cache of 0 every prev_kv comes from a value read back from the store.</summary>
    [Theory]
    [InlineData(StorageKind.Memory, 64)]
    [InlineData(StorageKind.Sqlite, 64)]
    [InlineData(StorageKind.Sqlite, 0)]
    public async Task KubeBrain_AnswersTheWatchScriptExactlyAsEtcdDoes(StorageKind storage, int valueCacheMiB)
    {
        var script = Script();
        await using var etcd = await WatchTarget.StartEtcdAsync();
        await using var kubeBrain = await WatchTarget.StartKubeBrainAsync(storage, valueCacheMiB: valueCacheMiB);

        var expected = await RunAsync(etcd, script);
        var actual = await RunAsync(kubeBrain, script);

        var differences = new StringBuilder();
        foreach (var name in expected.Keys.Union(actual.Keys).Order(StringComparer.Ordinal))
        {
            var want = expected.GetValueOrDefault(name, []);
            var got = actual.GetValueOrDefault(name, []);
            if (!want.SequenceEqual(got))
            {
                differences.Append(CultureInfo.InvariantCulture, $"\n{name}:\n  etcd:{Lines(want)}\n  kubebrain:{Lines(got)}");
            }
        }
        Assert.True(differences.Length == 0, $"the transcripts differ ({storage} storage):{differences}");
    }

    private static string Lines(IEnumerable<string> lines) => string.Concat(lines.Select(l => "\n    " + l));

    /// <summary>
    /// Runs the script on one stream and returns the transcript: "steps" (KV answers and waits that timed out) and
    /// one entry per watch id.
    /// </summary>
    private static async Task<Dictionary<string, List<string>>> RunAsync(WatchTarget target, IReadOnlyList<Step> script)
    {
        var steps = new List<string>();
        await using var session = target.Open();
        var creates = 0;
        foreach (var step in script)
        {
            switch (step)
            {
                case Write write:
                    steps.Add($"{write.Name}: {(await KvCalls.SendAsync(target.Kv, write.Request)).Text}");
                    break;
                case Create create:
                    creates++;
                    await session.SendCreateAsync(create.Request);
                    await Wait(steps, step, () => session.WaitUntilAsync(log => log.Count(r => r.Created) >= creates, "the created reply"));
                    break;
                case Cancel cancel:
                    await session.SendCancelAsync(cancel.WatchId);
                    break;
                case Progress:
                    await Wait(steps, step, () => RequestProgressAsync(session));
                    break;
                case Await wait:
                    await Wait(steps, step, () => session.WaitUntilAsync(
                        log => log.Any(r => r.WatchId == wait.WatchId && (r.Canceled || r.Events.Any(e => e.Kv.ModRevision >= wait.Revision))),
                        $"watch {wait.WatchId} at revision {wait.Revision}",
                        TimeSpan.FromSeconds(5)));
                    break;
            }
        }
        // Anything the last requests caused is in before the stream closes.
        await Wait(steps, new Progress("final request barrier"), session.RequestBarrierAsync);

        var transcript = new Dictionary<string, List<string>> { ["steps"] = steps };
        foreach (var response in session.All.Where(r => !session.IsHidden(r)))
        {
            var name = string.Create(CultureInfo.InvariantCulture, $"watch {response.WatchId}");
            if (!transcript.TryGetValue(name, out var lines))
            {
                transcript[name] = lines = [];
            }
            if (response.Events.Count == 0)
            {
                lines.Add(Text(response));
            }
            else
            {
                lines.AddRange(response.Events.Select(e => "event " + Text(e) + (response.Fragment ? " (fragment)" : "")));
            }
        }
        return transcript;
    }

    private static async Task Wait(List<string> steps, Step step, Func<Task> wait)
    {
        try
        {
            await wait();
        }
        catch (TimeoutException e)
        {
            steps.Add($"{step.Name}: timed out ({e.Message.Split(';')[0]})");
        }
    }
}

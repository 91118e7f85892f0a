using System.Globalization;
using Google.Protobuf;
using KubeBrain.Tests.Differential;
using Mvcc = KubeBrain.Protos.Mvccpb;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Watch;

/// <summary>One change of one key at one revision, as the KV history shows it.</summary>
public sealed record HistoryEvent(long Revision, bool IsDelete, Mvcc.KeyValue Kv, Mvcc.KeyValue? Prev);

/// <summary>
/// The store's history over a revision interval, reconstructed independently of the watch path: the whole key
/// space is read with a Range at every revision, and each revision's events are the difference from the revision
/// before (a key whose mod_revision is the revision was put; a key that disappeared was deleted). The value each
/// event replaced is the key's version at the revision before, which is what etcd's <c>prev_kv</c> is.
/// </summary>
public sealed class WatchHistory
{
    private readonly Dictionary<long, List<HistoryEvent>> _events;

    private WatchHistory(long first, long last, Dictionary<long, List<HistoryEvent>> events)
    {
        First = first;
        Last = last;
        _events = events;
    }

    /// <summary>A history given event by event (the validator's own tests build one by hand).</summary>
    public static WatchHistory Of(long first, long last, IEnumerable<HistoryEvent> events)
    {
        var byRevision = new Dictionary<long, List<HistoryEvent>>();
        foreach (var e in events)
        {
            if (!byRevision.TryGetValue(e.Revision, out var list))
            {
                byRevision[e.Revision] = list = [];
            }
            list.Add(e);
        }
        foreach (var list in byRevision.Values)
        {
            list.Sort((a, b) => a.Kv.Key.Span.SequenceCompareTo(b.Kv.Key.Span));
        }
        return new WatchHistory(first, last, byRevision);
    }

    /// <summary>The first revision read (the state before it is the base).</summary>
    public long First { get; }

    /// <summary>The last revision read.</summary>
    public long Last { get; }

    /// <summary>The events of one revision, by key.</summary>
    public IReadOnlyList<HistoryEvent> At(long revision) => _events.TryGetValue(revision, out var events) ? events : [];

    /// <summary>The events in a watcher's key span from <paramref name="fromRevision"/> to <see cref="Last"/>, in order.</summary>
    public List<HistoryEvent> Matching(Func<ByteString, bool> inSpan, long fromRevision)
    {
        var matching = new List<HistoryEvent>();
        for (var revision = Math.Max(fromRevision, First); revision <= Last; revision++)
        {
            matching.AddRange(At(revision).Where(e => inSpan(e.Kv.Key)));
        }
        return matching;
    }

    /// <summary>Reads every revision from <paramref name="first"/> to <paramref name="last"/> (the store must not be compacted above first − 1).</summary>
    public static async Task<WatchHistory> ReadAsync(Rpc.KV.KVClient kv, long first, long last)
    {
        var everything = ByteString.CopyFrom(0);
        var states = new Dictionary<long, Dictionary<ByteString, Mvcc.KeyValue>>();
        var revisions = Enumerable.Range(0, (int)(last - first + 2)).Select(i => first - 1 + i).ToList();
        await Parallel.ForEachAsync(revisions, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (revision, ct) =>
        {
            var state = new Dictionary<ByteString, Mvcc.KeyValue>();
            if (revision >= 1)
            {
                var response = await kv.RangeAsync(new Rpc.RangeRequest { Key = everything, RangeEnd = everything, Revision = revision }, cancellationToken: ct);
                foreach (var item in response.Kvs)
                {
                    state[item.Key] = item;
                }
            }
            lock (states)
            {
                states[revision] = state;
            }
        });
        var events = new Dictionary<long, List<HistoryEvent>>();
        for (var revision = first; revision <= last; revision++)
        {
            var before = states[revision - 1];
            var after = states[revision];
            var changes = new List<HistoryEvent>();
            foreach (var (key, item) in after)
            {
                if (item.ModRevision == revision)
                {
                    changes.Add(new HistoryEvent(revision, false, item, before.GetValueOrDefault(key)));
                }
            }
            foreach (var (key, item) in before)
            {
                if (!after.ContainsKey(key))
                {
                    changes.Add(new HistoryEvent(revision, true, new Mvcc.KeyValue { Key = key, ModRevision = revision }, item));
                }
            }
            changes.Sort((a, b) => a.Kv.Key.Span.SequenceCompareTo(b.Kv.Key.Span));
            events[revision] = changes;
        }
        return new WatchHistory(first, last, events);
    }

    /// <summary>
    /// Checks the history against the writes the clients saw acknowledged: revisions are dense (each has events),
    /// each acknowledged write is at its revision with the values it put, and every revision is an acknowledged
    /// write or one of the writes whose outcome the client could not learn.
    /// </summary>
    public List<string> CheckAgainst(IReadOnlyCollection<AckedWrite> acked, int unknownOutcomes)
    {
        var problems = new List<string>();
        var byRevision = new Dictionary<long, AckedWrite>();
        foreach (var write in acked)
        {
            if (!byRevision.TryAdd(write.Revision, write))
            {
                problems.Add($"two acknowledged writes at revision {write.Revision}");
            }
        }
        var unacked = 0;
        for (var revision = First; revision <= Last; revision++)
        {
            if (At(revision).Count == 0)
            {
                problems.Add($"revision {revision} changed nothing (revisions must be dense)");
            }
            if (!byRevision.ContainsKey(revision))
            {
                unacked++;
            }
        }
        if (unacked > unknownOutcomes)
        {
            problems.Add($"{unacked} revisions belong to no acknowledged write, but only {unknownOutcomes} writes had an unknown outcome");
        }
        foreach (var write in acked)
        {
            if (write.Revision < First || write.Revision > Last)
            {
                problems.Add($"acknowledged write at revision {write.Revision} is outside the history {First}..{Last}");
                continue;
            }
            var events = At(write.Revision).ToDictionary(e => e.Kv.Key.ToStringUtf8());
            foreach (var (key, value) in write.Puts)
            {
                if (!events.TryGetValue(key, out var e) || e.IsDelete || e.Kv.Value.ToStringUtf8() != value)
                {
                    problems.Add($"acknowledged put {key}={value} at revision {write.Revision} is not in the history: {string.Join(", ", events.Values.Select(Describe))}");
                }
            }
            foreach (var key in write.Deletes)
            {
                if (!events.TryGetValue(key, out var e) || !e.IsDelete)
                {
                    problems.Add($"acknowledged delete of {key} at revision {write.Revision} is not in the history");
                }
            }
        }
        return problems;
    }

    public static string Describe(HistoryEvent e) =>
        $"{(e.IsDelete ? "DELETE" : "PUT")} {ProtoText.Format(e.Kv)} prev {(e.Prev is null ? "none" : ProtoText.Format(e.Prev))}";
}

/// <summary>A write a client saw acknowledged at <see cref="Revision"/>, with the keys it put (and their values) and deleted.</summary>
public sealed record AckedWrite(long Revision, IReadOnlyDictionary<string, string> Puts, IReadOnlyList<string> Deletes);

/// <summary>What a test asked of one watch: its stream, id, key span, start revision (0 = now) and options.</summary>
public sealed record ObservedWatcher(int Stream, long WatchId, ByteString Key, ByteString RangeEnd, long RequestedStart, bool PrevKv)
{
    /// <summary>True when the test cancelled it: it then only has to have received a gap-free prefix of its events.</summary>
    public bool Cancelled { get; set; }

    /// <summary>etcd's key span rules: empty key is "\0"; no range_end one key; "\0" every key from key on.</summary>
    public bool Contains(ByteString key)
    {
        var start = Key.IsEmpty ? ByteString.CopyFrom(0) : Key;
        if (RangeEnd.IsEmpty)
        {
            return key.Equals(start);
        }
        if (key.Span.SequenceCompareTo(start.Span) < 0)
        {
            return false;
        }
        return (RangeEnd.Length == 1 && RangeEnd[0] == 0) || key.Span.SequenceCompareTo(RangeEnd.Span) < 0;
    }

    public override string ToString() =>
        $"watch {WatchId} on stream {Stream} [{ProtoText.Format(new Rpc.WatchCreateRequest { Key = Key, RangeEnd = RangeEnd, StartRevision = RequestedStart, PrevKv = PrevKv })}]";
}

/// <summary>
/// etcd's watch guarantees (api_guarantees.md; tests/robustness/validate/watch.go), checked for every watcher
/// against a <see cref="WatchHistory"/> read from the KV side:
/// <list type="bullet">
/// <item>Ordered: revisions strictly increase from response to response.</item>
/// <item>Unique: no event (revision, key) is delivered twice.</item>
/// <item>Atomic: all events of a revision for the watcher arrive in one response.</item>
/// <item>Reliable: no event of the watcher's span from its start revision to the end of the history is missing,
/// and nothing else is delivered (a cancelled watcher: a gap-free prefix).</item>
/// <item>Correct events: each event equals the history's (PUT with the full key-value, whose create_revision equals
/// mod_revision exactly for creates — IsCreate; DELETE with only key and mod_revision); prev_kv is the key's
/// version at revision − 1 when asked for, and absent otherwise.</item>
/// <item>Bookmarkable: a progress response at R (watch id −1 for the stream, or the watcher's own
/// progress_notify) comes after every event ≤ R of every watcher it covers, and never reports R below a start
/// revision − 1.</item>
/// </list>
/// The stream's responses must be given in arrival order and include every response (also of other watchers).
/// <para>
/// <paramref name="prevKvMayStartLate"/> is for etcd 3.4 only: its watch stream registers a new watcher with the
/// store before it notes that the watcher asked for prev_kv, and decides per response, when the response leaves the
/// store's queue, whether to look prev_kv up. A response that leaves the queue in between (the catch-up of a watcher
/// whose start revision is in the past, under load) carries no prev_kv at all. So a watcher's first event responses
/// may lack prev_kv in every event; from its first response that carries one, every response must be exact.
/// KubeBrain is validated without it.
/// </para>
/// </summary>
public sealed class WatchGuaranteeValidator(WatchHistory history, bool prevKvMayStartLate = false)
{
    public List<string> Validate(IReadOnlyList<IReadOnlyList<Rpc.WatchResponse>> streams, IEnumerable<ObservedWatcher> watchers)
    {
        var problems = new List<string>();
        foreach (var watcher in watchers)
        {
            problems.AddRange(Validate(streams[watcher.Stream], watcher).Select(p => $"{watcher}: {p}"));
        }
        return problems;
    }

    /// <summary>The events the watcher must receive; null while its created reply has not arrived.</summary>
    public List<HistoryEvent>? Expected(IReadOnlyList<Rpc.WatchResponse> stream, ObservedWatcher watcher)
    {
        var created = stream.FirstOrDefault(r => r.Created && r.WatchId == watcher.WatchId);
        return created is null ? null : history.Matching(watcher.Contains, StartOf(watcher, created));
    }

    /// <summary>How many events the watcher received after its created reply.</summary>
    public static int Received(IReadOnlyList<Rpc.WatchResponse> stream, ObservedWatcher watcher)
    {
        var createdAt = IndexOfCreated(stream, watcher);
        return createdAt < 0 ? 0 : stream.Skip(createdAt + 1).Where(r => r.WatchId == watcher.WatchId).Sum(r => r.Events.Count);
    }

    private static int IndexOfCreated(IReadOnlyList<Rpc.WatchResponse> stream, ObservedWatcher watcher)
    {
        for (var i = 0; i < stream.Count; i++)
        {
            if (stream[i].Created && stream[i].WatchId == watcher.WatchId)
            {
                return i;
            }
        }
        return -1;
    }

    private static long StartOf(ObservedWatcher watcher, Rpc.WatchResponse created) =>
        watcher.RequestedStart == 0 ? created.Header.Revision + 1 : watcher.RequestedStart;

    private List<string> Validate(IReadOnlyList<Rpc.WatchResponse> stream, ObservedWatcher watcher)
    {
        var problems = new List<string>();
        var createdAt = IndexOfCreated(stream, watcher);
        if (createdAt < 0)
        {
            return ["no created reply"];
        }
        var created = stream[createdAt];
        if (created.Canceled)
        {
            return [$"the create was refused: {ProtoText.Format(created)}"];
        }
        var start = StartOf(watcher, created);
        var expected = history.Matching(watcher.Contains, start);
        var expectedByKey = expected.ToDictionary(e => (e.Revision, e.Kv.Key));

        var seen = new HashSet<(long, ByteString)>();
        var received = new List<HistoryEvent>();
        var lastRevision = 0L;
        var ended = false;
        var prevKvStarted = !(prevKvMayStartLate && watcher.PrevKv);
        for (var i = createdAt + 1; i < stream.Count; i++)
        {
            var response = stream[i];
            var mine = response.WatchId == watcher.WatchId;
            if (mine && response.Canceled)
            {
                if (!watcher.Cancelled)
                {
                    problems.Add($"canceled by the server: {ProtoText.Format(response)}");
                }
                ended = true;
                break;
            }
            if (IsProgress(response) && (mine || response.WatchId == -1))
            {
                var at = response.Header.Revision;
                if (at < start - 1)
                {
                    problems.Add($"progress at revision {at} (response {i}) is below its start revision {start}");
                }
                var owed = expected.Where(e => e.Revision <= at && !seen.Contains((e.Revision, e.Kv.Key))).ToList();
                if (owed.Count > 0)
                {
                    problems.Add($"progress at revision {at} (response {i}) came before {owed.Count} of its events at or below it, the first {HistoryEvent(owed[0])}");
                }
                continue;
            }
            if (!mine || response.Events.Count == 0)
            {
                continue;
            }
            var revisions = response.Events.Select(e => e.Kv.ModRevision).ToList();
            if (revisions[0] <= lastRevision)
            {
                problems.Add($"response {i} starts at revision {revisions[0]}, not after the previous response's {lastRevision} (ordered/atomic)");
            }
            for (var j = 1; j < revisions.Count; j++)
            {
                if (revisions[j] < revisions[j - 1])
                {
                    problems.Add($"response {i} goes back from revision {revisions[j - 1]} to {revisions[j]}");
                }
            }
            if (response.Header.Revision < revisions.Max())
            {
                problems.Add($"response {i} has header revision {response.Header.Revision} below its events' {revisions.Max()}");
            }
            lastRevision = Math.Max(lastRevision, revisions.Max());
            prevKvStarted |= response.Events.Any(e => e.PrevKv is not null);
            foreach (var e in response.Events)
            {
                var id = (e.Kv.ModRevision, e.Kv.Key);
                if (!seen.Add(id))
                {
                    problems.Add($"duplicate event at revision {e.Kv.ModRevision} for {e.Kv.Key.ToStringUtf8()} (unique)");
                    continue;
                }
                if (!expectedByKey.TryGetValue(id, out var want))
                {
                    problems.Add($"unexpected event {ProtoText.Format(e)} (nothing in its span at that revision, or before its start {start})");
                    continue;
                }
                received.Add(want);
                var problem = Compare(want, e, watcher.PrevKv && prevKvStarted);
                if (problem is not null)
                {
                    problems.Add(problem);
                }
            }
        }
        // Atomic: every revision received must be received whole (its events travel in one response).
        foreach (var revision in received.Select(e => e.Revision).Distinct())
        {
            var missing = expected.Where(e => e.Revision == revision && !seen.Contains((e.Revision, e.Kv.Key))).ToList();
            if (missing.Count > 0)
            {
                problems.Add($"revision {revision} was delivered without {missing.Count} of its events, e.g. {HistoryEvent(missing[0])} (atomic)");
            }
        }
        var gaps = expected.Where(e => !seen.Contains((e.Revision, e.Kv.Key))).ToList();
        if (watcher.Cancelled || ended)
        {
            var receivedUpTo = received.Count == 0 ? start - 1 : received.Max(e => e.Revision);
            gaps = [.. gaps.Where(e => e.Revision <= receivedUpTo)];
        }
        if (gaps.Count > 0)
        {
            problems.Add($"{gaps.Count} of {expected.Count} events missing (reliable), the first {HistoryEvent(gaps[0])}");
        }
        return problems;
    }

    private static bool IsProgress(Rpc.WatchResponse response) =>
        response.Events.Count == 0 && !response.Created && !response.Canceled && response.CompactRevision == 0;

    private static string? Compare(HistoryEvent want, Mvcc.Event got, bool prevKv)
    {
        var wantType = want.IsDelete ? Mvcc.Event.Types.EventType.Delete : Mvcc.Event.Types.EventType.Put;
        if (got.Type != wantType)
        {
            return $"event at revision {want.Revision} for {want.Kv.Key.ToStringUtf8()} is {got.Type}, the history says {wantType}";
        }
        if (!want.IsDelete && (got.Kv.CreateRevision == got.Kv.ModRevision) != (want.Prev is null))
        {
            return $"IsCreate wrong at revision {want.Revision}: {ProtoText.Format(got.Kv)} but the key {(want.Prev is null ? "did not exist" : "existed")} before";
        }
        if (!got.Kv.Equals(want.Kv))
        {
            return $"event kv {ProtoText.Format(got.Kv)} differs from the history's {ProtoText.Format(want.Kv)}";
        }
        var wantPrev = prevKv ? want.Prev : null;
        if (!Equals(got.PrevKv, wantPrev))
        {
            return $"prev_kv at revision {want.Revision} for {want.Kv.Key.ToStringUtf8()} is {(got.PrevKv is null ? "absent" : ProtoText.Format(got.PrevKv))}, expected {(wantPrev is null ? "absent" : ProtoText.Format(wantPrev))}";
        }
        return null;
    }

    private static string HistoryEvent(HistoryEvent e) => WatchHistory.Describe(e);

    /// <summary>A report of problems for an assertion message, shortened.</summary>
    public static string Report(IReadOnlyCollection<string> problems, int shown = 30) =>
        string.Join("\n", problems.Take(shown)) + (problems.Count > shown ? string.Create(CultureInfo.InvariantCulture, $"\n... and {problems.Count - shown} more") : "");
}

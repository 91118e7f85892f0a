using Google.Protobuf;
using KubeBrain.Tests.Watch;
using Mvcc = KubeBrain.Protos.Mvccpb;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Robustness;

/// <summary>
/// Checks a recorded client history against the store's revision log. The log fixes the order of writes, so the
/// check needs no search: every revision is attributed to the one operation that wrote it (an acknowledged write
/// by its header revision, else an unknown-outcome write or lease revoke whose effect on the state before equals
/// the revision, else a lease expiry); every other answered operation is a read of the state after its header
/// revision; and no operation may take a place in the revision order before one that returned before it was
/// invoked. A write sits at (revision, 0), a read at (revision, 1).
/// </summary>
public static class LinearizabilityChecker
{
    private const int MaxProblems = 50;

    /// <summary>
    /// The problems found, at most about fifty, each naming the operation, its client and frontend, the revision and
    /// what differed; empty when the history is linearizable. <paramref name="initial"/> is the whole state at
    /// <c>truth.First − 1</c>.
    /// </summary>
    public static List<string> Check(IReadOnlyList<Operation> operations, WatchHistory truth, IReadOnlyDictionary<ByteString, Mvcc.KeyValue> initial)
    {
        var problems = new List<string>();
        new Run(truth, EtcdModel.Replay(truth, initial, problems), problems).Check(operations);
        return problems.Count <= MaxProblems ? problems : [.. problems.Take(MaxProblems), $"... and {problems.Count - MaxProblems} more problems"];
    }

    private sealed class Run(WatchHistory truth, EtcdModel model, List<string> problems)
    {
        private readonly List<(Operation Op, long Revision)> _answered = [];
        private readonly Dictionary<long, List<Operation>> _claims = [];
        private readonly Dictionary<(ByteString Key, ByteString? Value), List<Operation>> _unknownPutting = [];
        private readonly List<Operation> _unknownDeleting = [];
        private readonly List<(Operation Op, long Revision)> _compactions = [];
        private readonly HashSet<int> _settled = [];
        private readonly List<(Operation Op, long Revision, bool IsWrite)> _placed = [];
        private Dictionary<int, (long Revision, Operation By)> _unknownBounds = [];

        public void Check(IReadOnlyList<Operation> operations)
        {
            foreach (var op in operations.OrderBy(o => o.Invoke).ThenBy(o => o.Id))
            {
                Classify(op);
            }
            _unknownBounds = Preceding(_answered, _unknownDeleting.Concat(_unknownPutting.Values.SelectMany(l => l)).DistinctBy(o => o.Id));
            for (var revision = truth.First; revision <= truth.Last; revision++)
            {
                Attribute(revision);
            }
            foreach (var (op, revision) in _answered.Where(a => !_settled.Contains(a.Op.Id)))
            {
                Read(op, revision);
            }
            CheckRealTime();
        }

        private void Classify(Operation op)
        {
            if (op.Outcome == Outcome.Failed || op.Request is Rpc.LeaseGrantRequest)
            {
                return;
            }
            if (op.Request is Rpc.CompactionRequest compaction)
            {
                if (op.Outcome == Outcome.Ok)
                {
                    _compactions.Add((op, compaction.Revision));
                }
                return;
            }
            if (EtcdModel.Unsupported(op.Request) is { } unsupported)
            {
                Report(op, $"unsupported: the checker does not model {unsupported}");
                return;
            }
            var requests = EtcdModel.Flatten(op.Request).ToList();
            var readOnly = requests.All(r => r is Rpc.RangeRequest or Rpc.TxnRequest);
            if (op.Outcome == Outcome.Unknown)
            {
                foreach (var put in requests.OfType<Rpc.PutRequest>().Select(p => (p.Key, p.IgnoreValue ? null : p.Value)).Distinct())
                {
                    (_unknownPutting.TryGetValue(put, out var list) ? list : _unknownPutting[put] = []).Add(op);
                }
                if (requests.Any(r => r is Rpc.DeleteRangeRequest or Rpc.LeaseRevokeRequest))
                {
                    _unknownDeleting.Add(op);
                }
                return;
            }
            var revision = HeaderRevision(op.Response);
            if (revision is null || revision < truth.First - 1 || revision > truth.Last)
            {
                Report(op, $"answered at revision {revision?.ToString() ?? "(no header)"}, outside the checked log {truth.First - 1}..{truth.Last}");
                return;
            }
            _answered.Add((op, revision.Value));
            if (!readOnly && revision >= truth.First)
            {
                (_claims.TryGetValue(revision.Value, out var list) ? list : _claims[revision.Value] = []).Add(op);
            }
        }

        /// <summary>
        /// Finds the operation that wrote a revision, or reports the revision as a phantom write. Several answered
        /// operations may claim it with the same effect — a delete, and a lease revoke that found the key already
        /// gone — so the writer is one whose rivals all read as no-ops at the revision; the rivals are then checked
        /// as reads.
        /// </summary>
        private void Attribute(long revision)
        {
            var events = Events(revision);
            Operation? changedAlike = null;
            var matching = new List<Operation>();
            foreach (var op in _claims.GetValueOrDefault(revision) ?? [])
            {
                var applied = model.Apply(op.Request, revision - 1);
                if (applied.Changes.Count == 0 || !applied.Changes.SequenceEqual(events))
                {
                    continue;
                }
                changedAlike ??= op;
                if (SameResponse(applied.Response, op.Response))
                {
                    matching.Add(op);
                }
            }
            var writer = matching.FirstOrDefault(candidate => matching.All(rival => rival == candidate || ReadsAt(rival, revision))) ?? matching.FirstOrDefault();
            if (writer is not null)
            {
                _settled.Add(writer.Id);
                _placed.Add((writer, revision, true));
            }
            if (writer is not null || events.Count == 0)
            {
                return;
            }
            var firstPut = events.FirstOrDefault(c => c.Kv is not null);
            IEnumerable<Operation> candidates = firstPut is null
                ? _unknownDeleting
                : (_unknownPutting.GetValueOrDefault((firstPut.Key, firstPut.Kv!.Value)) ?? []).Concat(_unknownPutting.GetValueOrDefault((firstPut.Key, null)) ?? []).OrderBy(op => op.Invoke);
            var unknown = candidates
                .Where(op => !_settled.Contains(op.Id))
                .OrderBy(op => !InTime(op, revision))
                .FirstOrDefault(op => model.Apply(op.Request, revision - 1) is { Refusal: null } applied && applied.Changes.SequenceEqual(events));
            if (unknown is not null && (InTime(unknown, revision) || !LeaseExpiry(revision, events)))
            {
                _settled.Add(unknown.Id);
                _placed.Add((unknown, revision, true));
            }
            else if (unknown is null && !LeaseExpiry(revision, events))
            {
                var phantom = $"revision {revision}: phantom write {Describe.Changes(events)}: no acknowledged write claims it, and no unknown-outcome write, lease revoke or lease expiry explains it";
                if (changedAlike is null)
                {
                    problems.Add(phantom);
                    return;
                }
                _settled.Add(changedAlike.Id);
                var expected = model.Apply(changedAlike.Request, revision - 1).Response;
                problems.Add($"{phantom}; {Name(changedAlike)} makes these changes but answered {Describe.Message(changedAlike.Response)} where the model answers {Describe.Message(expected)}");
            }
        }

        /// <summary>Whether the revision deletes exactly the keys attached to one lease, as its expiry does.</summary>
        private bool LeaseExpiry(long revision, List<Change> events)
        {
            if (events.Any(c => c.Kv is not null) || model.Get(events[0].Key, revision - 1)?.Lease is not (> 0 and var lease))
            {
                return false;
            }
            return model.Apply(new Rpc.LeaseRevokeRequest { ID = lease }, revision - 1).Changes.SequenceEqual(events);
        }

        private List<Change> Events(long revision) => [.. truth.At(revision).Select(e => new Change(e.Kv.Key, e.IsDelete ? null : e.Kv)).Order(ChangeOrder)];

        private bool InTime(Operation op, long revision) => !_unknownBounds.TryGetValue(op.Id, out var bound) || bound.Revision < revision;

        /// <summary>Whether the operation, answered at the revision, is a no-op read of the state after it.</summary>
        private bool ReadsAt(Operation op, long revision) =>
            model.Apply(op.Request, revision) is { Refusal: null, Changes.Count: 0 } applied && SameResponse(applied.Response, op.Response);

        /// <summary>Checks an answered operation that wrote no revision: a read of the state after its header revision.</summary>
        private void Read(Operation op, long revision)
        {
            if (ReadsAt(op, revision))
            {
                _placed.Add((op, revision, false));
                return;
            }
            var asWrite = revision >= truth.First ? model.Apply(op.Request, revision - 1) : null;
            if (asWrite is { Changes.Count: > 0 })
            {
                Report(op, $"acknowledged as the write of revision {revision} with {Describe.Message(op.Response)}, but on revision {revision - 1} it {Effect(asWrite)}; the log's revision {revision} is {Describe.Changes(Events(revision))}");
            }
            else
            {
                Report(op, $"answered at revision {revision} with {Describe.Message(op.Response)}, but on revision {revision} it {Effect(model.Apply(op.Request, revision))}");
            }
        }

        /// <summary>
        /// No operation may be placed before one that returned before it was invoked, except a serializable read (etcd
        /// answers it from one member's state, which may lag); no read may see a revision compacted before it was invoked.
        /// </summary>
        private void CheckRealTime()
        {
            var bound = _placed.Select(p => p.Op).Where(op => !EtcdModel.Flatten(op.Request).All(m => m is Rpc.RangeRequest { Serializable: true } or Rpc.TxnRequest));
            var preceding = Preceding(_placed.Where(p => p.Op.Outcome == Outcome.Ok).Select(p => (p.Op, p.Revision)), bound);
            foreach (var (op, revision, isWrite) in _placed)
            {
                if (preceding.TryGetValue(op.Id, out var before) && (revision < before.Revision || (isWrite && revision == before.Revision)))
                {
                    Report(op, $"{(isWrite ? "wrote" : "read")} revision {revision}, but was invoked after {Name(before.By)} had returned at revision {before.Revision}: revisions went backwards in real time");
                }
            }
            var historical = _answered.Where(a => a.Op.Request is Rpc.RangeRequest { Revision: > 0 }).ToDictionary(a => a.Op.Id, a => a.Op);
            foreach (var (id, compacted) in Preceding(_compactions, historical.Values))
            {
                var op = historical[id];
                if (((Rpc.RangeRequest)op.Request).Revision < compacted.Revision)
                {
                    Report(op, $"read below revision {compacted.Revision} after {Name(compacted.By)} had compacted it; etcd refuses that read as compacted");
                }
            }
        }

        /// <summary>For each operation, the latest revision among the sources that returned before it was invoked, and which source.</summary>
        private static Dictionary<int, (long Revision, Operation By)> Preceding(IEnumerable<(Operation Op, long Revision)> sources, IEnumerable<Operation> operations)
        {
            var returned = sources.OrderBy(s => s.Op.Return).ToList();
            var preceding = new Dictionary<int, (long Revision, Operation By)>();
            (long Revision, Operation By)? latest = null;
            var next = 0;
            foreach (var op in operations.OrderBy(o => o.Invoke))
            {
                for (; next < returned.Count && returned[next].Op.Return < op.Invoke; next++)
                {
                    if (latest is null || returned[next].Revision > latest.Value.Revision)
                    {
                        latest = (returned[next].Revision, returned[next].Op);
                    }
                }
                if (latest is { } found)
                {
                    preceding[op.Id] = found;
                }
            }
            return preceding;
        }

        private void Report(Operation op, string problem) => problems.Add($"{Name(op)}: {problem}");
    }

    private static readonly IComparer<Change> ChangeOrder = Comparer<Change>.Create((a, b) => EtcdModel.KeyOrder.Compare(a.Key, b.Key));

    private static string Name(Operation op) => $"op #{op.Id} (client {op.Client}, frontend {op.Frontend}, {Describe.Message(op.Request)})";

    private static string Effect(Applied applied) => applied.Refusal is { } refusal
        ? $"cannot be applied: {refusal}"
        : applied.Changes.Count > 0
            ? $"writes {Describe.Changes(applied.Changes)} and answers {Describe.Message(applied.Response)}"
            : $"answers {Describe.Message(applied.Response)}";

    private static long? HeaderRevision(IMessage? response) => response switch
    {
        Rpc.RangeResponse r => r.Header?.Revision,
        Rpc.PutResponse p => p.Header?.Revision,
        Rpc.DeleteRangeResponse d => d.Header?.Revision,
        Rpc.TxnResponse t => t.Header?.Revision,
        Rpc.LeaseRevokeResponse l => l.Header?.Revision,
        _ => null,
    };

    /// <summary>Whether a response is the model's, headers (top-level and nested) aside.</summary>
    private static bool SameResponse(IMessage? expected, IMessage? actual)
    {
        if (expected is null || actual is null)
        {
            return expected is null && actual is null;
        }
        var copy = actual.Descriptor.Parser.ParseFrom(actual.ToByteString());
        ClearHeaders(copy);
        return expected.Equals(copy);
    }

    private static void ClearHeaders(IMessage response)
    {
        switch (response)
        {
            case Rpc.RangeResponse r:
                r.Header = null;
                break;
            case Rpc.PutResponse p:
                p.Header = null;
                break;
            case Rpc.DeleteRangeResponse d:
                d.Header = null;
                break;
            case Rpc.LeaseRevokeResponse l:
                l.Header = null;
                break;
            case Rpc.TxnResponse t:
                t.Header = null;
                foreach (var op in t.Responses)
                {
                    ClearHeaders(EtcdModel.Unwrap(op));
                }
                break;
        }
    }
}

using Google.Protobuf;
using KubeBrain.Tests.Watch;
using Mvcc = KubeBrain.Protos.Mvccpb;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Robustness;

/// <summary>One key's change at a revision: the key-value it now has, or null when it was deleted.</summary>
public sealed record Change(ByteString Key, Mvcc.KeyValue? Kv);

/// <summary>
/// What a request does to the state at a revision: the changes it writes (at the next revision, sorted by key)
/// and the response etcd gives (without headers), or why etcd would refuse it or the model cannot tell.
/// </summary>
public sealed record Applied(IReadOnlyList<Change> Changes, IMessage? Response, string? Refusal);

/// <summary>
/// A sequential etcd key-value store over a revision log. <see cref="Replay"/> builds the state at every revision
/// from the log (checking each revision follows from the one before); <see cref="Apply"/> runs a request on the
/// state at a revision as etcd would, without changing the model.
/// </summary>
public sealed class EtcdModel
{
    private static readonly ByteString Everything = ByteString.CopyFrom(0);

    private readonly ByteString[] _keys;
    private readonly Dictionary<ByteString, int> _index;
    private readonly List<(long Revision, Mvcc.KeyValue? Kv)>[] _versions;

    private EtcdModel(long first, ByteString[] keys)
    {
        First = first;
        _keys = keys;
        _index = keys.Select((key, i) => (key, i)).ToDictionary(p => p.key, p => p.i);
        _versions = [.. keys.Select(_ => new List<(long, Mvcc.KeyValue?)>())];
    }

    /// <summary>Orders keys as etcd does, byte by byte.</summary>
    public static IComparer<ByteString> KeyOrder { get; } = Comparer<ByteString>.Create((a, b) => a.Span.SequenceCompareTo(b.Span));

    /// <summary>The first revision of the log; the state at <c>First − 1</c> is the initial state.</summary>
    public long First { get; }

    /// <summary>
    /// Builds the model from the initial state (at <c>truth.First − 1</c>) and the log, adding a problem for every
    /// revision that is empty, changes a key twice, or does not follow from the state before it.
    /// </summary>
    public static EtcdModel Replay(WatchHistory truth, IReadOnlyDictionary<ByteString, Mvcc.KeyValue> initial, List<string> problems)
    {
        var revisions = Enumerable.Range(0, (int)Math.Max(0, truth.Last - truth.First + 1)).Select(i => truth.First + i).ToList();
        var keys = initial.Keys.Concat(revisions.SelectMany(r => truth.At(r).Select(e => e.Kv.Key))).Distinct().Order(KeyOrder).ToArray();
        var model = new EtcdModel(truth.First, keys);
        var current = new Dictionary<ByteString, Mvcc.KeyValue>(initial);
        foreach (var (key, kv) in initial)
        {
            model._versions[model._index[key]].Add((truth.First - 1, kv));
        }
        foreach (var revision in revisions)
        {
            var events = truth.At(revision);
            if (events.Count == 0)
            {
                problems.Add($"revision {revision}: the log has no events (every revision must change at least one key)");
            }
            if (events.Select(e => e.Kv.Key).Distinct().Count() != events.Count)
            {
                problems.Add($"revision {revision}: the log changes a key twice in one revision");
            }
            foreach (var e in events)
            {
                var key = e.Kv.Key;
                var prev = current.GetValueOrDefault(key);
                if (e.Prev is { } logged && !logged.Equals(prev))
                {
                    problems.Add($"revision {revision}: the log's previous value of {Describe.Bytes(key)} is {Describe.Kv(logged)}, but it was {Describe.Kv(prev)}");
                }
                if (e.IsDelete)
                {
                    if (prev is null)
                    {
                        problems.Add($"revision {revision}: the log deletes {Describe.Bytes(key)}, which did not exist");
                    }
                    current.Remove(key);
                }
                else
                {
                    var expected = new Mvcc.KeyValue(e.Kv) { CreateRevision = prev?.CreateRevision ?? revision, ModRevision = revision, Version = (prev?.Version ?? 0) + 1 };
                    if (!expected.Equals(e.Kv))
                    {
                        problems.Add($"revision {revision}: the log puts {Describe.Kv(e.Kv)}, but after {Describe.Kv(prev)} it must be {Describe.Kv(expected)}");
                    }
                    current[key] = e.Kv;
                }
                model._versions[model._index[key]].Add((revision, e.IsDelete ? null : e.Kv));
            }
        }
        return model;
    }

    /// <summary>A key's value at a revision (not before <see cref="First"/> − 1), or null when it does not exist.</summary>
    public Mvcc.KeyValue? Get(ByteString key, long revision) => _index.TryGetValue(key, out var i) ? At(i, revision) : null;

    /// <summary>
    /// The live keys of a span at a revision, ascending: <paramref name="end"/> empty is the single key, "\0" is
    /// every key from <paramref name="key"/> on, anything else the half-open interval.
    /// </summary>
    public IEnumerable<Mvcc.KeyValue> Range(ByteString key, ByteString end, long revision)
    {
        if (end.IsEmpty)
        {
            return Get(key, revision) is { } kv ? [kv] : [];
        }
        var start = LowerBound(key);
        var stop = end.Equals(Everything) ? _keys.Length : LowerBound(end);
        return Enumerable.Range(start, Math.Max(0, stop - start)).Select(i => At(i, revision)).OfType<Mvcc.KeyValue>();
    }

    /// <summary>Runs a request on the state at <paramref name="revision"/>; writes would make revision + 1.</summary>
    public Applied Apply(IMessage request, long revision)
    {
        var run = new Run(this, revision);
        try
        {
            var response = run.Execute(request);
            return new Applied([.. run.Staged.OrderBy(p => p.Key, KeyOrder).Select(p => new Change(p.Key, p.Value))], response, null);
        }
        catch (RefusedException e)
        {
            return new Applied([], null, e.Message);
        }
    }

    /// <summary>Why the model cannot check a request (a shape it does not model), or null.</summary>
    public static string? Unsupported(IMessage request) => Flatten(request).Select(m => m switch
    {
        Rpc.RangeRequest r when r.SortTarget != Rpc.RangeRequest.Types.SortTarget.Key => $"a range sorted by {r.SortTarget}",
        Rpc.RangeRequest or Rpc.PutRequest or Rpc.DeleteRangeRequest or Rpc.TxnRequest or Rpc.LeaseRevokeRequest => null,
        _ => $"a {m.Descriptor.Name}",
    }).FirstOrDefault(why => why is not null);

    /// <summary>The request and, for a transaction, every operation in both branches, nested ones included.</summary>
    public static IEnumerable<IMessage> Flatten(IMessage request) => request is Rpc.TxnRequest txn
        ? txn.Success.Concat(txn.Failure).SelectMany(op => Flatten(Unwrap(op))).Prepend(txn)
        : [request];

    /// <summary>The request a transaction operation holds (the operation itself when it holds none).</summary>
    public static IMessage Unwrap(Rpc.RequestOp op) => op.RequestCase switch
    {
        Rpc.RequestOp.RequestOneofCase.RequestRange => op.RequestRange,
        Rpc.RequestOp.RequestOneofCase.RequestPut => op.RequestPut,
        Rpc.RequestOp.RequestOneofCase.RequestDeleteRange => op.RequestDeleteRange,
        Rpc.RequestOp.RequestOneofCase.RequestTxn => op.RequestTxn,
        _ => op,
    };

    /// <summary>The response a transaction operation result holds (the result itself when it holds none).</summary>
    public static IMessage Unwrap(Rpc.ResponseOp op) => op.ResponseCase switch
    {
        Rpc.ResponseOp.ResponseOneofCase.ResponseRange => op.ResponseRange,
        Rpc.ResponseOp.ResponseOneofCase.ResponsePut => op.ResponsePut,
        Rpc.ResponseOp.ResponseOneofCase.ResponseDeleteRange => op.ResponseDeleteRange,
        Rpc.ResponseOp.ResponseOneofCase.ResponseTxn => op.ResponseTxn,
        _ => op,
    };

    private static bool InSpan(ByteString candidate, ByteString key, ByteString end) => end.IsEmpty
        ? candidate.Equals(key)
        : KeyOrder.Compare(candidate, key) >= 0 && (end.Equals(Everything) || KeyOrder.Compare(candidate, end) < 0);

    private int LowerBound(ByteString key)
    {
        var found = Array.BinarySearch(_keys, key, KeyOrder);
        return found >= 0 ? found : ~found;
    }

    private Mvcc.KeyValue? At(int index, long revision)
    {
        var versions = _versions[index];
        int low = 0, high = versions.Count;
        while (low < high)
        {
            var middle = (low + high) / 2;
            if (versions[middle].Revision <= revision)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }
        return low == 0 ? null : versions[low - 1].Kv;
    }

    /// <summary>One request's run: the state it reads and the changes it has staged so far.</summary>
    private sealed class Run(EtcdModel model, long revision)
    {
        public Dictionary<ByteString, Mvcc.KeyValue?> Staged { get; } = [];

        /// <summary>The revision reads see: the next one once the run has written something, as in etcd.</summary>
        private long Current => Staged.Count > 0 ? revision + 1 : revision;

        public IMessage Execute(IMessage request) => request switch
        {
            Rpc.RangeRequest range => Range(range),
            Rpc.PutRequest put => Put(put),
            Rpc.DeleteRangeRequest delete => Delete(delete),
            Rpc.TxnRequest txn => Txn(txn),
            Rpc.LeaseRevokeRequest revoke => Revoke(revoke),
            _ => throw new RefusedException($"the model has no {request.Descriptor.Name}"),
        };

        private List<Mvcc.KeyValue> Scan(ByteString key, ByteString end, long at)
        {
            if (at < model.First - 1)
            {
                throw new RefusedException($"unsupported: it reads revision {at}, before the checked log starts");
            }
            if (at <= revision)
            {
                return [.. model.Range(key, end, at)];
            }
            var merged = model.Range(key, end, revision).ToDictionary(kv => kv.Key);
            foreach (var (staged, kv) in Staged.Where(p => InSpan(p.Key, key, end)))
            {
                if (kv is null)
                {
                    merged.Remove(staged);
                }
                else
                {
                    merged[staged] = kv;
                }
            }
            return [.. merged.Values.OrderBy(kv => kv.Key, KeyOrder)];
        }

        private void Stage(ByteString key, Mvcc.KeyValue? kv)
        {
            if (!Staged.TryAdd(key, kv))
            {
                throw new RefusedException($"etcd refuses a transaction that changes {Describe.Bytes(key)} twice");
            }
        }

        private Rpc.RangeResponse Range(Rpc.RangeRequest request)
        {
            var at = request.Revision > 0 ? request.Revision : Current;
            if (at > Current)
            {
                throw new RefusedException($"etcd refuses a read of future revision {at}");
            }
            var found = Scan(request.Key, request.RangeEnd, at);
            var response = new Rpc.RangeResponse { Count = found.Count };
            if (request.CountOnly)
            {
                return response;
            }
            var kept = found.Where(kv =>
                (request.MinModRevision == 0 || kv.ModRevision >= request.MinModRevision) && (request.MaxModRevision == 0 || kv.ModRevision <= request.MaxModRevision) &&
                (request.MinCreateRevision == 0 || kv.CreateRevision >= request.MinCreateRevision) && (request.MaxCreateRevision == 0 || kv.CreateRevision <= request.MaxCreateRevision));
            if (request.SortOrder == Rpc.RangeRequest.Types.SortOrder.Descend)
            {
                kept = kept.Reverse();
            }
            var list = kept.ToList();
            if (request.Limit > 0 && list.Count > request.Limit)
            {
                list.RemoveRange((int)request.Limit, list.Count - (int)request.Limit);
                response.More = true;
            }
            response.Kvs.AddRange(list.Select(kv => request.KeysOnly ? new Mvcc.KeyValue(kv) { Value = ByteString.Empty } : kv));
            return response;
        }

        private Rpc.PutResponse Put(Rpc.PutRequest request)
        {
            var prev = Scan(request.Key, ByteString.Empty, Current).SingleOrDefault();
            if (prev is null && (request.IgnoreValue || request.IgnoreLease))
            {
                throw new RefusedException($"etcd refuses ignore_value or ignore_lease on {Describe.Bytes(request.Key)}, which does not exist");
            }
            Stage(request.Key, new Mvcc.KeyValue
            {
                Key = request.Key,
                Value = request.IgnoreValue ? prev!.Value : request.Value,
                Lease = request.IgnoreLease ? prev!.Lease : request.Lease,
                CreateRevision = prev?.CreateRevision ?? revision + 1,
                ModRevision = revision + 1,
                Version = (prev?.Version ?? 0) + 1,
            });
            return new Rpc.PutResponse { PrevKv = request.PrevKv ? prev : null };
        }

        private Rpc.DeleteRangeResponse Delete(Rpc.DeleteRangeRequest request)
        {
            var deleted = Scan(request.Key, request.RangeEnd, Current);
            deleted.ForEach(kv => Stage(kv.Key, null));
            var response = new Rpc.DeleteRangeResponse { Deleted = deleted.Count };
            if (request.PrevKv)
            {
                response.PrevKvs.AddRange(deleted);
            }
            return response;
        }

        private Rpc.LeaseRevokeResponse Revoke(Rpc.LeaseRevokeRequest request)
        {
            Scan(Everything, Everything, revision).Where(kv => kv.Lease == request.ID).ToList().ForEach(kv => Stage(kv.Key, null));
            return new Rpc.LeaseRevokeResponse();
        }

        /// <summary>
        /// etcd decides every branch, nested ones included, on the state before the transaction, then runs the
        /// chosen operations in order; later operations see the earlier ones' writes.
        /// </summary>
        private Rpc.TxnResponse Txn(Rpc.TxnRequest request)
        {
            var succeeded = request.Compare.All(Holds);
            var response = new Rpc.TxnResponse { Succeeded = succeeded };
            foreach (var op in succeeded ? request.Success : request.Failure)
            {
                response.Responses.Add(Execute(Unwrap(op)) switch
                {
                    Rpc.RangeResponse r => new Rpc.ResponseOp { ResponseRange = r },
                    Rpc.PutResponse p => new Rpc.ResponseOp { ResponsePut = p },
                    Rpc.DeleteRangeResponse d => new Rpc.ResponseOp { ResponseDeleteRange = d },
                    var t => new Rpc.ResponseOp { ResponseTxn = (Rpc.TxnResponse)t },
                });
            }
            return response;
        }

        private bool Holds(Rpc.Compare compare)
        {
            var kvs = Scan(compare.Key, compare.RangeEnd, revision);
            if (kvs.Count == 0)
            {
                return compare.Target != Rpc.Compare.Types.CompareTarget.Value && Compares(compare, new Mvcc.KeyValue());
            }
            return kvs.All(kv => Compares(compare, kv));
        }

        private static bool Compares(Rpc.Compare compare, Mvcc.KeyValue kv)
        {
            var order = compare.Target switch
            {
                Rpc.Compare.Types.CompareTarget.Version => kv.Version.CompareTo(compare.Version),
                Rpc.Compare.Types.CompareTarget.Create => kv.CreateRevision.CompareTo(compare.CreateRevision),
                Rpc.Compare.Types.CompareTarget.Mod => kv.ModRevision.CompareTo(compare.ModRevision),
                Rpc.Compare.Types.CompareTarget.Value => kv.Value.Span.SequenceCompareTo(compare.Value.Span),
                Rpc.Compare.Types.CompareTarget.Lease => kv.Lease.CompareTo(compare.Lease),
                _ => throw new RefusedException($"the model has no compare target {compare.Target}"),
            };
            return compare.Result switch
            {
                Rpc.Compare.Types.CompareResult.Equal => order == 0,
                Rpc.Compare.Types.CompareResult.Greater => order > 0,
                Rpc.Compare.Types.CompareResult.Less => order < 0,
                Rpc.Compare.Types.CompareResult.NotEqual => order != 0,
                _ => throw new RefusedException($"the model has no compare result {compare.Result}"),
            };
        }
    }

    private sealed class RefusedException(string message) : Exception(message);
}

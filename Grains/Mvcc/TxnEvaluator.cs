using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.Grains.Mvcc;

/// <summary>
/// Evaluates an etcd transaction against a view, as etcd does: first every compare of the whole tree (nested
/// transactions included) is decided against the state before the transaction, which fixes the branch taken
/// at each level; then the ops of the taken branches run in order, each seeing the writes of the ones before.
/// The result is kept pending (<see cref="PendingOp"/>) because the versions it shows may only get their
/// revisions when the transaction commits.
/// </summary>
internal static class TxnEvaluator
{
    /// <summary>
    /// Evaluates <paramref name="txn"/>. Returns null when a compare depends on the revision of a pending
    /// version: the caller must wait for it to commit and evaluate again. When the view was missing a value
    /// (<see cref="IKvView.ValueOf"/>) the evaluation is void and is repeated once the value is read.
    /// </summary>
    public static Evaluation? Evaluate(TxnRequest txn, IKvView view)
    {
        var path = new List<bool>();
        if (!DecidePath(txn, view, path))
        {
            return null;
        }
        var run = new Run(new OverlayView(view), [], path);
        var result = Execute(txn, run);
        return new Evaluation(result, run.Writes, run.Refusal);
    }

    private static bool DecidePath(TxnRequest txn, IKvView view, List<bool> path)
    {
        var holds = true;
        foreach (var compare in txn.Compares)
        {
            switch (Holds(compare, view))
            {
                case null:
                    return false;
                case false:
                    holds = false;
                    break;
            }
            if (!holds)
            {
                break;
            }
        }
        path.Add(holds);
        foreach (var op in holds ? txn.Success : txn.Failure)
        {
            if (op is NestedTxnOp nested && !DecidePath(nested.Txn, view, path))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Whether the compare holds; null when that depends on a revision not assigned yet.</summary>
    private static bool? Holds(Compare compare, IKvView view)
    {
        var any = false;
        foreach (var version in view.Scan(compare.Span))
        {
            any = true;
            var holds = Holds(compare, version, view);
            if (holds != true)
            {
                return holds;
            }
        }
        return any || (compare.Target != CompareTarget.Value && Holds(compare, null, view) == true);
    }

    private static bool? Holds(Compare compare, KeyVersion? version, IKvView view)
    {
        int order;
        switch (compare.Target)
        {
            case CompareTarget.Value:
                order = (version is null ? [] : view.ValueOf(version)).AsSpan().SequenceCompareTo(compare.Value);
                break;
            case CompareTarget.Mod when version is { IsPending: true }:
            case CompareTarget.Create when version?.PendingCreator is not null:
                return null;
            default:
                var actual = compare.Target switch
                {
                    CompareTarget.Version => version?.Version ?? 0,
                    CompareTarget.Create => version?.CreateRevision ?? 0,
                    CompareTarget.Mod => version?.Revision ?? 0,
                    _ => version?.Lease ?? 0,
                };
                order = actual.CompareTo(compare.Number);
                break;
        }
        return compare.Result switch
        {
            CompareResult.Equal => order == 0,
            CompareResult.Greater => order > 0,
            CompareResult.Less => order < 0,
            _ => order != 0,
        };
    }

    private static PendingTxn Execute(TxnRequest txn, Run run)
    {
        var succeeded = run.Path[run.PathIndex++];
        var ops = succeeded ? txn.Success : txn.Failure;
        var results = new List<PendingOp>(ops.Count);
        foreach (var op in ops)
        {
            PendingOp result = op switch
            {
                RangeOp range => Range(range.Query, run.View),
                PutOp put => Put(put, run),
                DeleteOp delete => Delete(delete, run),
                NestedTxnOp nested => Execute(nested.Txn, run),
                _ => throw new ArgumentException($"unknown transaction operation {op.GetType().Name}"),
            };
            results.Add(result with { AfterWrite = run.Writes.Count > 0 });
        }
        return new PendingTxn(succeeded, results);
    }

    /// <summary>Reads a span from a view and keeps what shaping needs: values only when it returns or sorts by them.</summary>
    public static PendingRange Range(RangeQuery query, IKvView view)
    {
        var kept = new List<SeenVersion>();
        long count = 0;
        var fetch = query.CountOnly ? 0 : query.FetchLimit;
        var values = !query.KeysOnly || query.SortTarget == RangeSortTarget.Value;
        foreach (var version in view.Scan(query.Span))
        {
            count++;
            if (!query.CountOnly && (fetch == 0 || kept.Count < fetch))
            {
                kept.Add(new SeenVersion(version, values ? view.ValueOf(version) : []));
            }
        }
        return new PendingRange(query, kept, count);
    }

    private static PendingPut Put(PutOp put, Run run)
    {
        var prev = run.View.Get(put.Key);
        if (prev is null && (put.IgnoreValue || put.IgnoreLease))
        {
            run.Refuse(KvStatus.KeyNotFound);
            return new PendingPut(null, put.PrevKv);
        }
        var prevValue = prev is null ? [] : run.View.ValueOf(prev);
        var version = KeyVersion.NewPut(
            put.Key,
            put.IgnoreValue ? prevValue : put.Value,
            put.IgnoreLease ? prev!.Lease : put.Lease,
            prev,
            prevValue);
        run.Write(version);
        return new PendingPut(prev is null ? null : new SeenVersion(prev, prevValue), put.PrevKv);
    }

    private static PendingDelete Delete(DeleteOp delete, Run run)
    {
        var deleted = run.View.Scan(delete.Span)
            .Where(v => delete.OnlyLease == 0 || v.Lease == delete.OnlyLease)
            .Select(v => new SeenVersion(v, run.View.ValueOf(v)))
            .ToList();
        foreach (var prev in deleted)
        {
            run.Write(KeyVersion.NewTombstone(prev.Version, prev.Value));
        }
        return new PendingDelete(deleted, delete.PrevKv);
    }

    /// <summary>The state of one evaluation: the view with the writes so far laid over it, and the path taken.</summary>
    private sealed class Run(OverlayView view, List<KeyVersion> writes, List<bool> path)
    {
        public OverlayView View { get; } = view;

        public List<KeyVersion> Writes { get; } = writes;

        public List<bool> Path { get; } = path;

        public int PathIndex { get; set; }

        public KvStatus Refusal { get; private set; }

        public void Refuse(KvStatus status)
        {
            if (Refusal == KvStatus.Ok)
            {
                Refusal = status;
            }
        }

        /// <summary>Records a write; a second write of one key in one transaction is refused.</summary>
        public void Write(KeyVersion version)
        {
            if (View.HasWrite(version.Key))
            {
                Refuse(KvStatus.KeyWrittenTwice);
            }
            View.Write(version);
            Writes.Add(version);
        }
    }
}

/// <summary>
/// The outcome of evaluating a transaction: its pending result and the versions it writes, in order.
/// <see cref="Refusal"/> is not <see cref="KvStatus.Ok"/> when the transaction must be refused instead: a put
/// with ignore_value or ignore_lease found no key (etcd's "key not found"), or it writes one key twice.
/// </summary>
internal sealed record Evaluation(PendingTxn Result, List<KeyVersion> Writes, KvStatus Refusal);

/// <summary>
/// An operation result whose versions may still await their revisions. <see cref="AfterWrite"/> records whether
/// the transaction had written when the operation ran, which decides the revision in its header.
/// </summary>
internal abstract record PendingOp
{
    public bool AfterWrite { get; init; }

    /// <summary>The final result, once the transaction has its <paramref name="revision"/>.</summary>
    /// <param name="revision">The transaction's revision (the read revision when it wrote nothing).</param>
    /// <param name="before">The store's revision before the transaction.</param>
    public OpResult Materialize(long revision, long before) =>
        Build(revision, before) with { HeaderRevision = !HasHeader ? 0 : AfterWrite ? revision : before };

    /// <summary>False for a nested transaction: etcd leaves its header empty.</summary>
    protected virtual bool HasHeader => true;

    protected abstract OpResult Build(long revision, long before);
}

/// <summary>A version as an evaluation saw it, with its value then (empty where the result needs none).</summary>
internal readonly record struct SeenVersion(KeyVersion Version, byte[] Value)
{
    public KeyValue ToKeyValue() => Version.ToKeyValue(Value);
}

internal sealed record PendingRange(RangeQuery Query, List<SeenVersion> Versions, long Count) : PendingOp
{
    public RangeResult Shape() => RangeShaping.Shape(Query, Versions.ConvertAll(v => v.ToKeyValue()), Count);

    protected override OpResult Build(long revision, long before) => new RangeOpResult(Shape());
}

internal sealed record PendingPut(SeenVersion? Prev, bool PrevKv) : PendingOp
{
    protected override OpResult Build(long revision, long before) => new PutOpResult(PrevKv ? Prev?.ToKeyValue() : null);
}

internal sealed record PendingDelete(List<SeenVersion> Deleted, bool PrevKv) : PendingOp
{
    protected override OpResult Build(long revision, long before) =>
        new DeleteOpResult(Deleted.Count, PrevKv ? Deleted.ConvertAll(v => v.ToKeyValue()) : []);
}

internal sealed record PendingTxn(bool Succeeded, List<PendingOp> Ops) : PendingOp
{
    /// <summary>The top-level result: <paramref name="wrote"/> says whether <paramref name="revision"/> is the transaction's own.</summary>
    public TxnResult ToResult(long revision, bool wrote) => Result(revision, wrote ? revision - 1 : revision);

    protected override bool HasHeader => false;

    protected override OpResult Build(long revision, long before) => new NestedTxnOpResult(Result(revision, before));

    private TxnResult Result(long revision, long before)
    {
        var results = new OpResult[Ops.Count];
        for (var i = 0; i < results.Length; i++)
        {
            results[i] = Ops[i].Materialize(revision, before);
        }
        return new(KvStatus.Ok, Succeeded, results, revision);
    }
}

using Google.Protobuf;
using KubeBrain.EtcdFrontend.Errors;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Kv;

/// <summary>etcd's request checks, made before anything is evaluated, with etcd's errors.</summary>
internal static class RequestChecks
{
    public static void CheckRange(Rpc.RangeRequest request)
    {
        if (request.Key.IsEmpty)
        {
            throw EtcdErrors.EmptyKey;
        }
        if (!Enum.IsDefined(request.SortOrder) || !Enum.IsDefined(request.SortTarget))
        {
            throw EtcdErrors.InvalidSortOption;
        }
    }

    public static void CheckPut(Rpc.PutRequest request)
    {
        if (request.Key.IsEmpty)
        {
            throw EtcdErrors.EmptyKey;
        }
        if (request.IgnoreValue && !request.Value.IsEmpty)
        {
            throw EtcdErrors.ValueProvided;
        }
        if (request.IgnoreLease && request.Lease != 0)
        {
            throw EtcdErrors.LeaseProvided;
        }
    }

    public static void CheckDelete(Rpc.DeleteRangeRequest request)
    {
        if (request.Key.IsEmpty)
        {
            throw EtcdErrors.EmptyKey;
        }
    }

    /// <summary>etcd's transaction checks: operation count, keys, and no key written twice on one path.</summary>
    public static void CheckTxn(Rpc.TxnRequest request, int maxTxnOps)
    {
        CheckTxnShape(request, maxTxnOps);
        CheckIntervals(request.Success);
        CheckIntervals(request.Failure);
    }

    private static void CheckTxnShape(Rpc.TxnRequest request, int maxTxnOps)
    {
        var ops = Math.Max(request.Compare.Count, Math.Max(request.Success.Count, request.Failure.Count));
        if (ops > maxTxnOps)
        {
            throw EtcdErrors.TooManyOps;
        }
        foreach (var compare in request.Compare)
        {
            if (compare.Key.IsEmpty)
            {
                throw EtcdErrors.EmptyKey;
            }
        }
        foreach (var op in request.Success.Concat(request.Failure))
        {
            switch (op.RequestCase)
            {
                case Rpc.RequestOp.RequestOneofCase.RequestRange:
                    CheckRange(op.RequestRange);
                    if (op.RequestRange.Revision != 0)
                    {
                        throw EtcdErrors.Unsupported("request_range.revision inside a txn");
                    }
                    break;
                case Rpc.RequestOp.RequestOneofCase.RequestPut:
                    CheckPut(op.RequestPut);
                    break;
                case Rpc.RequestOp.RequestOneofCase.RequestDeleteRange:
                    CheckDelete(op.RequestDeleteRange);
                    break;
                case Rpc.RequestOp.RequestOneofCase.RequestTxn:
                    CheckTxnShape(op.RequestTxn, maxTxnOps - ops);
                    break;
                default:
                    throw EtcdErrors.KeyNotFound;
            }
        }
    }

    /// <summary>
    /// Within one branch set no key may be put twice or put inside a deleted interval; a nested transaction's
    /// two branches exclude each other, so the same key may be put in both.
    /// </summary>
    private static (HashSet<ByteString> Puts, List<(ByteString Key, ByteString End)> Deletes) CheckIntervals(IEnumerable<Rpc.RequestOp> ops)
    {
        var deletes = new List<(ByteString Key, ByteString End)>();
        foreach (var op in ops)
        {
            if (op.RequestCase == Rpc.RequestOp.RequestOneofCase.RequestDeleteRange)
            {
                deletes.Add((op.RequestDeleteRange.Key, op.RequestDeleteRange.RangeEnd));
            }
        }
        var puts = new HashSet<ByteString>();
        foreach (var op in ops)
        {
            if (op.RequestCase != Rpc.RequestOp.RequestOneofCase.RequestTxn)
            {
                continue;
            }
            var (putsThen, deletesThen) = CheckIntervals(op.RequestTxn.Success);
            var (putsElse, deletesElse) = CheckIntervals(op.RequestTxn.Failure);
            foreach (var key in putsThen)
            {
                if (!puts.Add(key) || InDeleted(key, deletes))
                {
                    throw EtcdErrors.DuplicateKey;
                }
            }
            foreach (var key in putsElse)
            {
                if ((puts.Contains(key) && !putsThen.Contains(key)) || InDeleted(key, deletes))
                {
                    throw EtcdErrors.DuplicateKey;
                }
                puts.Add(key);
            }
            deletes.AddRange(deletesThen);
            deletes.AddRange(deletesElse);
        }
        foreach (var op in ops)
        {
            if (op.RequestCase != Rpc.RequestOp.RequestOneofCase.RequestPut)
            {
                continue;
            }
            var key = op.RequestPut.Key;
            if (!puts.Add(key) || InDeleted(key, deletes))
            {
                throw EtcdErrors.DuplicateKey;
            }
        }
        return (puts, deletes);
    }

    /// <summary>
    /// Whether <paramref name="key"/> lies in one of the deleted intervals, compared as etcd's check compares
    /// them: a delete without range_end is its key, any other is [key, range_end) by bytes (so a from-key delete,
    /// range_end "\0", covers nothing here).
    /// </summary>
    private static bool InDeleted(ByteString key, List<(ByteString Key, ByteString End)> deletes)
    {
        foreach (var (start, end) in deletes)
        {
            var inside = end.IsEmpty
                ? key.Span.SequenceEqual(start.Span)
                : key.Span.SequenceCompareTo(start.Span) >= 0 && key.Span.SequenceCompareTo(end.Span) < 0;
            if (inside)
            {
                return true;
            }
        }
        return false;
    }
}

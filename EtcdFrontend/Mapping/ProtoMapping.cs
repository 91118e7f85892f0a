using System.Runtime.InteropServices;
using Google.Protobuf;
using KubeBrain.EtcdFrontend.Errors;
using KubeBrain.Grains.Interfaces.Model;
using Rpc = KubeBrain.Protos.Etcdserverpb;
using Mvccpb = KubeBrain.Protos.Mvccpb;

namespace KubeBrain.EtcdFrontend.Mapping;

/// <summary>The only place where protobuf messages become the project's records and back.</summary>
internal static partial class ProtoMapping
{
    /// <summary>
    /// etcd's key/range_end pair: no range_end is the single key, range_end "\0" every key from key on, anything
    /// else the interval [key, range_end).
    /// </summary>
    public static KeySpan ToSpan(ByteString key, ByteString rangeEnd)
    {
        if (rangeEnd.IsEmpty)
        {
            return KeySpan.Single(Bytes(key));
        }
        if (rangeEnd.Length == 1 && rangeEnd[0] == 0)
        {
            return new KeySpan(Bytes(key), []);
        }
        return new KeySpan(Bytes(key), Bytes(rangeEnd));
    }

    /// <summary>
    /// A field's bytes as the records hold them, without a copy where the field owns a whole array: a parsed
    /// request's fields each get an array of their own, which nothing writes to afterwards, and the records are
    /// immutable too. A value is the largest thing a request carries; its copy took as many bytes as parsing it.
    /// </summary>
    private static byte[] Bytes(ByteString bytes) =>
        MemoryMarshal.TryGetArray(bytes.Memory, out var whole) && whole is { Array: { } array, Offset: 0 } && whole.Count == array.Length
            ? array
            : bytes.ToByteArray();

    /// <summary>A watch's keys: as <see cref="ToSpan"/>, with an empty key standing for "\0", the smallest key.</summary>
    public static KeySpan ToWatchSpan(ByteString key, ByteString rangeEnd) =>
        ToSpan(key.IsEmpty ? ByteString.CopyFrom(0) : key, rangeEnd);

    public static RangeQuery ToQuery(Rpc.RangeRequest request) =>
        new(ToSpan(request.Key, request.RangeEnd), request.Revision, request.Limit, request.KeysOnly, request.CountOnly)
        {
            SortOrder = (RangeSortOrder)request.SortOrder,
            SortTarget = (RangeSortTarget)request.SortTarget,
            MinModRevision = request.MinModRevision,
            MaxModRevision = request.MaxModRevision,
            MinCreateRevision = request.MinCreateRevision,
            MaxCreateRevision = request.MaxCreateRevision,
        };

    public static PutOp ToOp(Rpc.PutRequest request) => new(
        Bytes(request.Key), Bytes(request.Value), request.Lease, request.PrevKv, request.IgnoreValue, request.IgnoreLease);

    public static DeleteOp ToOp(Rpc.DeleteRangeRequest request) => new(ToSpan(request.Key, request.RangeEnd), request.PrevKv);

    public static TxnRequest ToTxn(Rpc.TxnRequest request) => new(
        [.. request.Compare.Select(ToCompare)],
        [.. request.Success.Select(ToOp)],
        [.. request.Failure.Select(ToOp)]);

    /// <summary>
    /// A compare's operand is the <c>target_union</c> member of its own target; any other member (or none)
    /// compares as zero, or as the empty value, as etcd compares.
    /// </summary>
    private static Compare ToCompare(Rpc.Compare compare)
    {
        var target = (CompareTarget)compare.Target;
        var number = (target, compare.TargetUnionCase) switch
        {
            (CompareTarget.Version, Rpc.Compare.TargetUnionOneofCase.Version) => compare.Version,
            (CompareTarget.Create, Rpc.Compare.TargetUnionOneofCase.CreateRevision) => compare.CreateRevision,
            (CompareTarget.Mod, Rpc.Compare.TargetUnionOneofCase.ModRevision) => compare.ModRevision,
            (CompareTarget.Lease, Rpc.Compare.TargetUnionOneofCase.Lease) => compare.Lease,
            _ => 0,
        };
        var value = target == CompareTarget.Value && compare.TargetUnionCase == Rpc.Compare.TargetUnionOneofCase.Value
            ? Bytes(compare.Value)
            : [];
        return new Compare(ToSpan(compare.Key, compare.RangeEnd), target, (CompareResult)compare.Result, number, value);
    }

    private static TxnOp ToOp(Rpc.RequestOp op) => op.RequestCase switch
    {
        Rpc.RequestOp.RequestOneofCase.RequestRange => new RangeOp(ToQuery(op.RequestRange)),
        Rpc.RequestOp.RequestOneofCase.RequestPut => ToOp(op.RequestPut),
        Rpc.RequestOp.RequestOneofCase.RequestDeleteRange => ToOp(op.RequestDeleteRange),
        Rpc.RequestOp.RequestOneofCase.RequestTxn => new NestedTxnOp(ToTxn(op.RequestTxn)),
        _ => throw EtcdErrors.KeyNotFound,
    };

    public static Mvccpb.KeyValue ToProto(KeyValue kv) => new()
    {
        Key = UnsafeByteOperations.UnsafeWrap(kv.Key),
        CreateRevision = kv.CreateRevision,
        ModRevision = kv.ModRevision,
        Version = kv.Version,
        Value = UnsafeByteOperations.UnsafeWrap(kv.Value),
        Lease = kv.Lease,
    };

    /// <summary>A watch event; <c>prev_kv</c> only when the watcher asked for it.</summary>
    public static Mvccpb.Event ToProto(WatchEvent e, bool withPrevKv) => new()
    {
        Type = e.IsDelete ? Mvccpb.Event.Types.EventType.Delete : Mvccpb.Event.Types.EventType.Put,
        Kv = ToProto(e.Kv),
        PrevKv = withPrevKv && e.Prev is { } prev ? ToProto(prev) : null,
    };

    public static Rpc.RangeResponse ToProto(RangeResult result, Rpc.ResponseHeader header)
    {
        var response = new Rpc.RangeResponse { Header = header, More = result.More, Count = result.Count };
        foreach (var kv in result.Kvs)
        {
            response.Kvs.Add(ToProto(kv));
        }
        return response;
    }

    public static Rpc.PutResponse ToProto(PutOpResult result, Rpc.ResponseHeader header) =>
        new() { Header = header, PrevKv = result.PrevKv is { } prev ? ToProto(prev) : null };

    public static Rpc.DeleteRangeResponse ToProto(DeleteOpResult result, Rpc.ResponseHeader header)
    {
        var response = new Rpc.DeleteRangeResponse { Header = header, Deleted = result.Deleted };
        foreach (var kv in result.PrevKvs)
        {
            response.PrevKvs.Add(ToProto(kv));
        }
        return response;
    }

    /// <summary>
    /// A transaction response. As etcd does, every nested response carries a header holding only the revision
    /// the operation saw (empty for a nested transaction).
    /// </summary>
    public static Rpc.TxnResponse ToProto(TxnResult result, Rpc.ResponseHeader header)
    {
        var response = new Rpc.TxnResponse { Header = header, Succeeded = result.Succeeded };
        foreach (var op in result.Responses)
        {
            var inner = new Rpc.ResponseHeader { Revision = op.HeaderRevision };
            response.Responses.Add(op switch
            {
                RangeOpResult range => new Rpc.ResponseOp { ResponseRange = ToProto(range.Range, inner) },
                PutOpResult put => new Rpc.ResponseOp { ResponsePut = ToProto(put, inner) },
                DeleteOpResult delete => new Rpc.ResponseOp { ResponseDeleteRange = ToProto(delete, inner) },
                NestedTxnOpResult txn => new Rpc.ResponseOp { ResponseTxn = ToProto(txn.Txn, inner) },
                _ => throw new ArgumentException($"unknown operation result {op.GetType().Name}"),
            });
        }
        return response;
    }
}

using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Xunit;
using Mvcc = KubeBrain.Protos.Mvccpb;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Wire;

/// <summary>Request builders and assertions shared by the wire tests.</summary>
public static class WireHelpers
{
    public const string EmptyKey = "etcdserver: key is not provided";
    public const string KeyNotFound = "etcdserver: key not found";
    public const string ValueProvided = "etcdserver: value is provided";
    public const string LeaseProvided = "etcdserver: lease is provided";
    public const string LeaseNotFound = "etcdserver: requested lease not found";
    public const string TooManyOps = "etcdserver: too many operations in txn request";
    public const string DuplicateKey = "etcdserver: duplicate key given in txn request";
    public const string TooLarge = "etcdserver: request is too large";
    public const string Compacted = "etcdserver: mvcc: required revision has been compacted";
    public const string FutureRevision = "etcdserver: mvcc: required revision is a future revision";
    public const string InvalidSortOption = "etcdserver: invalid sort option";

    /// <summary>A key prefix no other test uses, ending in '/'.</summary>
    public static string NewPrefix(string area) => $"/wire/{area}/{Guid.NewGuid():N}/";

    public static ByteString B(string text) => ByteString.CopyFromUtf8(text);

    public static string S(ByteString bytes) => bytes.ToStringUtf8();

    /// <summary>etcd's prefix range end: the prefix with its last byte incremented.</summary>
    public static ByteString PrefixEnd(string prefix)
    {
        var bytes = Encoding.UTF8.GetBytes(prefix);
        bytes[^1]++;
        return ByteString.CopyFrom(bytes);
    }

    /// <summary>range_end "\0": every key from key on.</summary>
    public static ByteString FromKey => ByteString.CopyFrom(0);

    public static Rpc.PutRequest Put(string key, string value) => new() { Key = B(key), Value = B(value) };

    public static Rpc.RangeRequest Get(string key) => new() { Key = B(key) };

    public static Rpc.RangeRequest Prefix(string prefix) => new() { Key = B(prefix), RangeEnd = PrefixEnd(prefix) };

    public static Rpc.DeleteRangeRequest Delete(string key) => new() { Key = B(key) };

    public static Rpc.RequestOp OpPut(string key, string value) => new() { RequestPut = Put(key, value) };

    public static Rpc.RequestOp OpGet(string key) => new() { RequestRange = Get(key) };

    public static Rpc.RequestOp OpDelete(string key, string? rangeEnd = null) =>
        new() { RequestDeleteRange = new Rpc.DeleteRangeRequest { Key = B(key), RangeEnd = rangeEnd is null ? ByteString.Empty : B(rangeEnd) } };

    public static Rpc.RequestOp OpTxn(Rpc.TxnRequest txn) => new() { RequestTxn = txn };

    public static Rpc.Compare Cmp(string key, Rpc.Compare.Types.CompareTarget target, Rpc.Compare.Types.CompareResult result, long operand)
    {
        var compare = new Rpc.Compare { Key = B(key), Target = target, Result = result };
        switch (target)
        {
            case Rpc.Compare.Types.CompareTarget.Version:
                compare.Version = operand;
                break;
            case Rpc.Compare.Types.CompareTarget.Create:
                compare.CreateRevision = operand;
                break;
            case Rpc.Compare.Types.CompareTarget.Mod:
                compare.ModRevision = operand;
                break;
            case Rpc.Compare.Types.CompareTarget.Lease:
                compare.Lease = operand;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(target), target, "use CmpValue");
        }
        return compare;
    }

    public static Rpc.Compare CmpValue(string key, Rpc.Compare.Types.CompareResult result, string value) =>
        new() { Key = B(key), Target = Rpc.Compare.Types.CompareTarget.Value, Result = result, Value = B(value) };

    public static Rpc.TxnRequest Txn(IEnumerable<Rpc.Compare> compare, IEnumerable<Rpc.RequestOp> success, IEnumerable<Rpc.RequestOp>? failure = null)
    {
        var txn = new Rpc.TxnRequest();
        txn.Compare.Add(compare);
        txn.Success.Add(success);
        txn.Failure.Add(failure ?? []);
        return txn;
    }

    /// <summary>The keys of a range answer, as text.</summary>
    public static string[] Keys(Rpc.RangeResponse response) => [.. response.Kvs.Select(kv => S(kv.Key))];

    /// <summary>The latest revision, read with a Range (which reports it in its header).</summary>
    public static async Task<long> CurrentRevisionAsync(Rpc.KV.KVClient kv) =>
        (await kv.RangeAsync(Get("/wire/revision-probe"))).Header.Revision;

    /// <summary>Asserts that the call fails with exactly etcd's gRPC status code and message.</summary>
    public static async Task<RpcException> AssertRpcErrorAsync(StatusCode code, string message, Func<Task> call)
    {
        var error = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Equal((code, message), (error.StatusCode, error.Status.Detail));
        return error;
    }

    /// <summary>Asserts every field of a key-value.</summary>
    public static void AssertKv(Mvcc.KeyValue actual, string key, string value, long createRevision, long modRevision, long version, long lease = 0)
    {
        Assert.Equal(
            (key, value, createRevision, modRevision, version, lease),
            (S(actual.Key), S(actual.Value), actual.CreateRevision, actual.ModRevision, actual.Version, actual.Lease));
    }
}

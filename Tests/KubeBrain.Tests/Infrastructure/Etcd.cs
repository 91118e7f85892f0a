using Google.Protobuf;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Infrastructure;

/// <summary>Builders for etcd requests in the shapes clients send them.</summary>
public static class Etcd
{
    public static ByteString Bytes(string text) => ByteString.CopyFromUtf8(text);

    /// <summary>The end of the prefix interval of <paramref name="prefix"/> (etcd's GetPrefixRangeEnd).</summary>
    public static ByteString PrefixEnd(string prefix)
    {
        var end = Bytes(prefix).ToByteArray();
        for (var i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xff)
            {
                end[i]++;
                return ByteString.CopyFrom(end, 0, i + 1);
            }
        }
        return ByteString.CopyFrom(0);
    }

    public static Rpc.PutRequest Put(string key, string value) => new() { Key = Bytes(key), Value = Bytes(value) };

    public static Rpc.RangeRequest Get(string key) => new() { Key = Bytes(key) };

    public static Rpc.RangeRequest List(string prefix, long limit = 0, long revision = 0) =>
        new() { Key = Bytes(prefix), RangeEnd = PrefixEnd(prefix), Limit = limit, Revision = revision };

    /// <summary>The apiserver's Create: put only if the key has never been written (mod revision 0).</summary>
    public static Rpc.TxnRequest Create(string key, string value) => new()
    {
        Compare = { new Rpc.Compare { Target = Rpc.Compare.Types.CompareTarget.Mod, Result = Rpc.Compare.Types.CompareResult.Equal, Key = Bytes(key), ModRevision = 0 } },
        Success = { new Rpc.RequestOp { RequestPut = Put(key, value) } },
    };

    /// <summary>The apiserver's GuaranteedUpdate: put if unchanged since <paramref name="modRevision"/>, else read it.</summary>
    public static Rpc.TxnRequest Update(string key, string value, long modRevision) => new()
    {
        Compare = { new Rpc.Compare { Target = Rpc.Compare.Types.CompareTarget.Mod, Result = Rpc.Compare.Types.CompareResult.Equal, Key = Bytes(key), ModRevision = modRevision } },
        Success = { new Rpc.RequestOp { RequestPut = Put(key, value) } },
        Failure = { new Rpc.RequestOp { RequestRange = Get(key) } },
    };

    /// <summary>The apiserver's conditional delete.</summary>
    public static Rpc.TxnRequest Delete(string key, long modRevision) => new()
    {
        Compare = { new Rpc.Compare { Target = Rpc.Compare.Types.CompareTarget.Mod, Result = Rpc.Compare.Types.CompareResult.Equal, Key = Bytes(key), ModRevision = modRevision } },
        Success = { new Rpc.RequestOp { RequestDeleteRange = new Rpc.DeleteRangeRequest { Key = Bytes(key) } } },
        Failure = { new Rpc.RequestOp { RequestRange = Get(key) } },
    };

    /// <summary>The apiserver compactor's CAS on compact_rev_key.</summary>
    public static Rpc.TxnRequest CompactCas(long localVersion, long revision) => new()
    {
        Compare = { new Rpc.Compare { Target = Rpc.Compare.Types.CompareTarget.Version, Result = Rpc.Compare.Types.CompareResult.Equal, Key = Bytes("compact_rev_key"), Version = localVersion } },
        Success = { new Rpc.RequestOp { RequestPut = Put("compact_rev_key", revision.ToString(System.Globalization.CultureInfo.InvariantCulture)) } },
        Failure = { new Rpc.RequestOp { RequestRange = Get("compact_rev_key") } },
    };
}

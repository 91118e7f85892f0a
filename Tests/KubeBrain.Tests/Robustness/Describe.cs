using System.Text;
using Google.Protobuf;
using Mvcc = KubeBrain.Protos.Mvccpb;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Robustness;

/// <summary>Short readable renderings of keys, key-values, changes, requests and responses for problem reports.</summary>
public static class Describe
{
    /// <summary>Printable ASCII as it is, any other byte as \xNN.</summary>
    public static string Bytes(ByteString bytes)
    {
        var text = new StringBuilder();
        foreach (var b in bytes.Span)
        {
            text.Append(b is >= 0x20 and < 0x7f and not (byte)'\\' ? ((char)b).ToString() : $"\\x{b:x2}");
        }
        return text.ToString();
    }

    public static string Kv(Mvcc.KeyValue? kv) => kv is null
        ? "absent"
        : $"{Bytes(kv.Key)}={Bytes(kv.Value)} (create {kv.CreateRevision}, mod {kv.ModRevision}, version {kv.Version}{(kv.Lease != 0 ? $", lease {kv.Lease}" : "")})";

    public static string Changes(IEnumerable<Change> changes) =>
        $"[{string.Join(", ", changes.Select(c => c.Kv is null ? $"delete {Bytes(c.Key)}" : $"put {Kv(c.Kv)}"))}]";

    /// <summary>A request or a response (headers left out).</summary>
    public static string Message(IMessage? message) => message switch
    {
        null => "no response",
        Rpc.RangeRequest r => $"range {Span(r.Key, r.RangeEnd)}{(r.Revision != 0 ? $" at revision {r.Revision}" : "")}{(r.Limit != 0 ? $" limit {r.Limit}" : "")}"
            + $"{(r.SortOrder == Rpc.RangeRequest.Types.SortOrder.Descend ? " descending" : "")}{(r.KeysOnly ? " keys-only" : "")}{(r.CountOnly ? " count-only" : "")}",
        Rpc.PutRequest p => $"put {Bytes(p.Key)}={Bytes(p.Value)}{(p.Lease != 0 ? $" lease {p.Lease}" : "")}{(p.PrevKv ? " prev_kv" : "")}"
            + $"{(p.IgnoreValue ? " ignore_value" : "")}{(p.IgnoreLease ? " ignore_lease" : "")}",
        Rpc.DeleteRangeRequest d => $"delete {Span(d.Key, d.RangeEnd)}{(d.PrevKv ? " prev_kv" : "")}",
        Rpc.TxnRequest t => $"txn if [{string.Join(", ", t.Compare.Select(Compare))}] then [{List(t.Success)}] else [{List(t.Failure)}]",
        Rpc.RequestOp op => Message(EtcdModel.Unwrap(op)),
        Rpc.LeaseRevokeRequest l => $"revoke lease {l.ID}",
        Rpc.CompactionRequest c => $"compact {c.Revision}",
        Rpc.RangeResponse r => $"kvs [{string.Join(", ", r.Kvs.Select(Kv))}] count {r.Count}{(r.More ? " more" : "")}",
        Rpc.PutResponse p => p.PrevKv is null ? "put" : $"put, prev {Kv(p.PrevKv)}",
        Rpc.DeleteRangeResponse d => $"deleted {d.Deleted}{(d.PrevKvs.Count > 0 ? $", prev [{string.Join(", ", d.PrevKvs.Select(Kv))}]" : "")}",
        Rpc.TxnResponse t => $"{(t.Succeeded ? "succeeded" : "failed")} [{List(t.Responses)}]",
        Rpc.ResponseOp op => Message(EtcdModel.Unwrap(op)),
        Rpc.LeaseRevokeResponse => "revoked",
        _ => message.Descriptor.Name,
    };

    private static string List(IEnumerable<IMessage> messages) => string.Join("; ", messages.Select(Message));

    private static string Span(ByteString key, ByteString end) => end.IsEmpty
        ? Bytes(key)
        : end.Length == 1 && end[0] == 0 ? $"{Bytes(key)}.." : $"[{Bytes(key)}, {Bytes(end)})";

    private static string Compare(Rpc.Compare c)
    {
        var result = c.Result switch
        {
            Rpc.Compare.Types.CompareResult.Equal => "=",
            Rpc.Compare.Types.CompareResult.Greater => ">",
            Rpc.Compare.Types.CompareResult.Less => "<",
            _ => "!=",
        };
        var operand = c.Target switch
        {
            Rpc.Compare.Types.CompareTarget.Version => c.Version.ToString(),
            Rpc.Compare.Types.CompareTarget.Create => c.CreateRevision.ToString(),
            Rpc.Compare.Types.CompareTarget.Mod => c.ModRevision.ToString(),
            Rpc.Compare.Types.CompareTarget.Value => Bytes(c.Value),
            _ => c.Lease.ToString(),
        };
        return $"{Span(c.Key, c.RangeEnd)} {c.Target.ToString().ToLowerInvariant()} {result} {operand}";
    }
}

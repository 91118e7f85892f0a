using Google.Protobuf;
using Grpc.Core;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Differential;

/// <summary>Sends any KV request to a server and renders the answer (or the error) comparably across servers.</summary>
public static class KvCalls
{
    /// <summary>A response without the member-specific header fields (null for an error), and it or the error as text.</summary>
    public sealed record Outcome(IMessage? Response, string Text);

    public static async Task<Outcome> SendAsync(Rpc.KV.KVClient kv, IMessage request)
    {
        try
        {
            IMessage response = request switch
            {
                Rpc.RangeRequest range => await kv.RangeAsync(range),
                Rpc.PutRequest put => await kv.PutAsync(put),
                Rpc.DeleteRangeRequest delete => await kv.DeleteRangeAsync(delete),
                Rpc.TxnRequest txn => await kv.TxnAsync(txn),
                Rpc.CompactionRequest compact => await kv.CompactAsync(compact),
                _ => throw new ArgumentException($"no KV method takes a {request.Descriptor.Name}", nameof(request)),
            };
            var comparable = ProtoText.WithoutMemberFields(response);
            return new Outcome(comparable, comparable.Descriptor.Name + " " + ProtoText.Format(comparable));
        }
        catch (RpcException error)
        {
            return new Outcome(null, $"error {error.StatusCode} \"{error.Status.Detail}\"");
        }
    }
}

using Grpc.Core;
using KubeBrain.EtcdFrontend.Errors;
using Microsoft.Extensions.Options;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Kv;

/// <summary>etcd's KV service; each verb is in its own file.</summary>
internal sealed partial class KvService(KvBackend backend, ResponseHeaders headers, IOptions<EtcdFrontendOptions> options) : Rpc.KV.KVBase
{
    private EtcdFrontendOptions Options => options.Value;

    /// <summary>etcd refuses a write request larger than <c>--max-request-bytes</c> before evaluating it.</summary>
    private void CheckSize(Google.Protobuf.IMessage request)
    {
        if (request.CalculateSize() > Options.MaxRequestBytes)
        {
            throw EtcdErrors.RequestTooLarge;
        }
    }

    public override Task RangeStream(Rpc.RangeRequest request, IServerStreamWriter<Rpc.RangeStreamResponse> responseStream, ServerCallContext context) =>
        throw new RpcException(new Status(StatusCode.Unimplemented, "kubebrain: RangeStream is not supported; page with limit"));
}

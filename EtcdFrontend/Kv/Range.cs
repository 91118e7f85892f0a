using Grpc.Core;
using KubeBrain.EtcdFrontend.Mapping;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Kv;

internal sealed partial class KvService
{
    public override async Task<Rpc.RangeResponse> Range(Rpc.RangeRequest request, ServerCallContext context)
    {
        RequestChecks.CheckRange(request);
        var (result, revision) = await backend.RangeAsync(ProtoMapping.ToQuery(request));
        return ProtoMapping.ToProto(result, headers.At(revision));
    }
}

using Grpc.Core;
using KubeBrain.EtcdFrontend.Mapping;
using KubeBrain.Grains.Interfaces.Model;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Kv;

internal sealed partial class KvService
{
    public override async Task<Rpc.PutResponse> Put(Rpc.PutRequest request, ServerCallContext context)
    {
        RequestChecks.CheckPut(request);
        CheckSize(request);
        var result = await backend.TxnAsync(new TxnRequest([], [ProtoMapping.ToOp(request)], []));
        return ProtoMapping.ToProto((PutOpResult)result.Responses[0], headers.At(result.Revision));
    }
}

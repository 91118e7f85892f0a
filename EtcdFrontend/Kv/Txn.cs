using Grpc.Core;
using KubeBrain.EtcdFrontend.Mapping;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Kv;

internal sealed partial class KvService
{
    public override async Task<Rpc.TxnResponse> Txn(Rpc.TxnRequest request, ServerCallContext context)
    {
        RequestChecks.CheckTxn(request, Options.MaxTxnOps);
        CheckSize(request);
        var result = await backend.TxnAsync(ProtoMapping.ToTxn(request));
        return ProtoMapping.ToProto(result, headers.At(result.Revision));
    }
}

using Grpc.Core;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Kv;

internal sealed partial class KvService
{
    public override async Task<Rpc.CompactionResponse> Compact(Rpc.CompactionRequest request, ServerCallContext context)
    {
        var revision = await backend.CompactAsync(request.Revision, request.Physical);
        return new Rpc.CompactionResponse { Header = headers.At(revision) };
    }
}

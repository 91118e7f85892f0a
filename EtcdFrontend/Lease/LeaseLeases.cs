using Grpc.Core;
using KubeBrain.EtcdFrontend.Mapping;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Lease;

internal sealed partial class LeaseService
{
    public override async Task<Rpc.LeaseLeasesResponse> LeaseLeases(Rpc.LeaseLeasesRequest request, ServerCallContext context)
    {
        var result = await Sequencer.ListLeasesAsync();
        return ProtoMapping.ToProto(result, headers.At(result.Revision));
    }
}

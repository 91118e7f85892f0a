using Grpc.Core;
using KubeBrain.EtcdFrontend.Mapping;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Lease;

internal sealed partial class LeaseService
{
    /// <summary>As etcd 3.4: a lease that is not live answers TTL −1 (not an error).</summary>
    public override async Task<Rpc.LeaseTimeToLiveResponse> LeaseTimeToLive(Rpc.LeaseTimeToLiveRequest request, ServerCallContext context)
    {
        var result = await Sequencer.LeaseTimeToLiveAsync(request.ID, request.Keys);
        return ProtoMapping.ToProto(request.ID, result, headers.At(result.Revision));
    }
}

using Grpc.Core;
using KubeBrain.EtcdFrontend.Errors;
using KubeBrain.EtcdFrontend.Mapping;
using KubeBrain.Grains.Interfaces.Model;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Lease;

internal sealed partial class LeaseService
{
    public override async Task<Rpc.LeaseGrantResponse> LeaseGrant(Rpc.LeaseGrantRequest request, ServerCallContext context)
    {
        var result = await Sequencer.GrantLeaseAsync(request.ID, request.TTL);
        return result.Outcome == LeaseOutcome.Ok
            ? ProtoMapping.ToProto(result, headers.At(result.Revision))
            : throw EtcdErrors.For(result.Outcome);
    }
}

using Grpc.Core;
using KubeBrain.EtcdFrontend.Errors;
using KubeBrain.Grains.Interfaces.Model;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Lease;

internal sealed partial class LeaseService
{
    public override async Task<Rpc.LeaseRevokeResponse> LeaseRevoke(Rpc.LeaseRevokeRequest request, ServerCallContext context)
    {
        var result = await grains.Coordinator.RevokeLeaseAsync(request.ID);
        return result.Outcome == LeaseOutcome.Ok
            ? new Rpc.LeaseRevokeResponse { Header = headers.At(result.Revision) }
            : throw EtcdErrors.For(result.Outcome);
    }
}

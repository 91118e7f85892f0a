using Grpc.Core;
using KubeBrain.EtcdFrontend.Kv;
using Microsoft.Extensions.Options;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Maintenance;

/// <summary>
/// etcd's Maintenance service: Status is served (the apiserver reads its version and dbSize); the raft index
/// is the revision. The other methods answer Unimplemented.
/// </summary>
internal sealed class MaintenanceService(KvBackend backend, ResponseHeaders headers, IOptions<EtcdFrontendOptions> options) : Rpc.Maintenance.MaintenanceBase
{
    public override async Task<Rpc.StatusResponse> Status(Rpc.StatusRequest request, ServerCallContext context)
    {
        var status = await backend.StatusAsync();
        return new Rpc.StatusResponse
        {
            Header = headers.At(status.Revision),
            Version = options.Value.EmulatedEtcdVersion,
            DbSize = status.DbSize,
            DbSizeInUse = status.DbSize,
            Leader = headers.MemberId,
            RaftIndex = (ulong)status.Revision,
            RaftTerm = ResponseHeaders.RaftTerm,
            RaftAppliedIndex = (ulong)status.Revision,
            StorageVersion = StorageVersion(options.Value.EmulatedEtcdVersion),
        };
    }

    /// <summary>etcd reports its storage version as major.minor.0.</summary>
    private static string StorageVersion(string version)
    {
        var parts = version.Split('.');
        return parts.Length >= 2 ? $"{parts[0]}.{parts[1]}.0" : version;
    }
}

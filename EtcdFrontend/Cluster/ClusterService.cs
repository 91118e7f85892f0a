using Grpc.Core;
using KubeBrain.EtcdFrontend.Kv;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Cluster;

/// <summary>
/// etcd's Cluster service: MemberList answers every frontend that is up, each with its client URLs, whichever
/// frontend is asked. Membership changes answer Unimplemented: members are Orleans silos and frontends, not raft
/// peers.
/// </summary>
internal sealed class ClusterService(KvBackend backend, ResponseHeaders headers, FrontendMembership membership) : Rpc.Cluster.ClusterBase
{
    public override async Task<Rpc.MemberListResponse> MemberList(Rpc.MemberListRequest request, ServerCallContext context)
    {
        var members = await membership.ListAsync();
        var response = new Rpc.MemberListResponse { Header = headers.At(await backend.RevisionAsync()) };
        foreach (var frontend in members)
        {
            var member = new Rpc.Member { ID = frontend.Id, Name = frontend.Name };
            member.ClientURLs.Add(frontend.ClientUrls);
            response.Members.Add(member);
        }
        return response;
    }
}

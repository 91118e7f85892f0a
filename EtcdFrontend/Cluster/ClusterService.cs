using Grpc.Core;
using KubeBrain.EtcdFrontend.Kv;
using Microsoft.Extensions.Options;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Cluster;

/// <summary>
/// etcd's Cluster service: MemberList answers one logical member with this frontend's client URLs. Membership
/// changes answer Unimplemented: members are Orleans silos and frontends, not raft peers.
/// </summary>
internal sealed class ClusterService(KvBackend backend, ResponseHeaders headers, IOptions<EtcdFrontendOptions> options) : Rpc.Cluster.ClusterBase
{
    public override async Task<Rpc.MemberListResponse> MemberList(Rpc.MemberListRequest request, ServerCallContext context)
    {
        var member = new Rpc.Member { ID = headers.MemberId, Name = options.Value.Name };
        member.ClientURLs.Add(options.Value.AdvertiseClientUrls);
        var response = new Rpc.MemberListResponse { Header = headers.At(await backend.RevisionAsync()) };
        response.Members.Add(member);
        return response;
    }
}

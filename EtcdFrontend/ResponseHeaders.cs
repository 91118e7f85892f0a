using System.Text;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend;

/// <summary>
/// Builds etcd response headers. Each frontend is an etcd member whose id is derived from its name, in a cluster
/// whose id is derived from the Orleans cluster id (both stable across restarts); the raft term is always 1
/// because no election happens.
/// </summary>
internal sealed class ResponseHeaders(IOptions<EtcdFrontendOptions> options, IOptions<ClusterOptions> cluster)
{
    public const ulong RaftTerm = 1;

    public ulong MemberId { get; } = Fnv1a("member/" + options.Value.Name);

    public ulong ClusterId { get; } = Fnv1a("cluster/" + cluster.Value.ClusterId);

    public Rpc.ResponseHeader At(long revision) =>
        new() { ClusterId = ClusterId, MemberId = MemberId, Revision = revision, RaftTerm = RaftTerm };

    private static ulong Fnv1a(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            hash = (hash ^ b) * 1099511628211UL;
        }
        return hash;
    }
}

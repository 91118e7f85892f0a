using System.Text;
using Microsoft.Extensions.Options;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend;

/// <summary>
/// Builds etcd response headers. KubeBrain is one logical etcd member: its member and cluster ids are derived
/// from the member name (stable across restarts), and the raft term is always 1 because no election happens.
/// </summary>
internal sealed class ResponseHeaders(IOptions<EtcdFrontendOptions> options)
{
    public const ulong RaftTerm = 1;

    public ulong MemberId { get; } = Fnv1a("member/" + options.Value.Name);

    public ulong ClusterId { get; } = Fnv1a("cluster/" + options.Value.Name);

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

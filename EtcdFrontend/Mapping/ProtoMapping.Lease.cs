using Google.Protobuf;
using KubeBrain.EtcdFrontend.Batching;
using KubeBrain.Grains.Interfaces.Model;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Mapping;

/// <summary>The Lease service's results as etcd's responses.</summary>
internal static partial class ProtoMapping
{
    public static Rpc.LeaseGrantResponse ToProto(LeaseGrantResult result, Rpc.ResponseHeader header) =>
        new() { Header = header, ID = result.Id, TTL = result.Ttl };

    public static Rpc.LeaseKeepAliveResponse ToProto(long id, LeaseKeepAliveResult result, Rpc.ResponseHeader header) =>
        new() { Header = header, ID = id, TTL = result.Ttl };

    public static Rpc.LeaseTimeToLiveResponse ToProto(long id, LeaseTimeToLiveResult result, Rpc.ResponseHeader header)
    {
        var response = new Rpc.LeaseTimeToLiveResponse { Header = header, ID = id, TTL = result.Ttl, GrantedTTL = result.GrantedTtl };
        foreach (var key in result.Keys)
        {
            response.Keys.Add(UnsafeByteOperations.UnsafeWrap(key));
        }
        return response;
    }

    public static Rpc.LeaseLeasesResponse ToProto(LeaseListResult result, Rpc.ResponseHeader header)
    {
        var response = new Rpc.LeaseLeasesResponse { Header = header };
        foreach (var id in result.Ids)
        {
            response.Leases.Add(new Rpc.LeaseStatus { ID = id });
        }
        return response;
    }
}

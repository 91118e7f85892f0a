using KubeBrain.Tests.Infrastructure;
using Xunit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Behaviour;

/// <summary>The real server process: an acknowledged grant survives kill -9, with the keys attached to it.</summary>
public sealed class LeaseCrashTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("kubebrain-lease-crash-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    [Fact]
    public async Task AGrantedLeaseAndItsKeysSurviveKill9()
    {
        long id;
        await using (var server = await ServerProcess.StartAsync(_dataDir))
        {
            id = (await new Rpc.Lease.LeaseClient(server.Channel).LeaseGrantAsync(new Rpc.LeaseGrantRequest { TTL = 3660 })).ID;
            await server.Kv.PutAsync(new Rpc.PutRequest { Key = Etcd.Bytes("/registry/events/ns/e"), Value = Etcd.Bytes("v"), Lease = id });
            await server.KillAsync();
        }

        await using var restarted = await ServerProcess.StartAsync(_dataDir);
        var lease = new Rpc.Lease.LeaseClient(restarted.Channel);

        var timeToLive = await lease.LeaseTimeToLiveAsync(new Rpc.LeaseTimeToLiveRequest { ID = id, Keys = true });
        Assert.Equal(3660, timeToLive.GrantedTTL);
        Assert.Equal(["/registry/events/ns/e"], timeToLive.Keys.Select(k => k.ToStringUtf8()));
        await lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id });
        Assert.Empty((await restarted.Kv.RangeAsync(Etcd.Get("/registry/events/ns/e"))).Kvs);
    }
}

using System.Diagnostics;
using Grpc.Core;
using KubeBrain.Tests.Infrastructure;
using KubeBrain.Tests.Watch;
using Xunit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Behaviour;

/// <summary>
/// The cluster deployment as processes on loopback: two silos on one PostgreSQL (AdoNet clustering) and two
/// frontend processes, each serving writes, reads, watches and leases (over several key ranges, so grains live on
/// both silos); MemberList through either lists both; a frontend killed with -9 leaves the other serving and drops
/// out of MemberList once its registration expires; SIGTERM stops a frontend promptly, ending its watches with
/// Unavailable.
/// </summary>
public sealed class ClusterTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task TwoSilosAndTwoFrontends_ServeEverythingThroughEither_AndAKilledFrontendLeavesMemberList()
    {
        await using var cluster = new KubeBrainCluster();
        await Task.WhenAll(cluster.StartSiloAsync("silo-a"), cluster.StartSiloAsync("silo-b"));
        var frontends = await Task.WhenAll(cluster.StartFrontendAsync("fe-a"), cluster.StartFrontendAsync("fe-b"));
        var (a, b) = (frontends[0], frontends[1]);
        Assert.Equal(2, await cluster.ActiveSiloCountAsync());

        foreach (var frontend in frontends)
        {
            var members = await MembersAsync(frontend);
            Assert.Equal([$"fe-a {a.Endpoint}", $"fe-b {b.Endpoint}"], members.Select(m => $"{m.Name} {string.Join(",", m.ClientURLs)}").Order());
            var status = await new Rpc.Maintenance.MaintenanceClient(frontend.Channel).StatusAsync(new Rpc.StatusRequest());
            Assert.Equal(members.Single(m => m.ClientURLs.Single() == frontend.Endpoint).ID, status.Header.MemberId);
        }

        await using var watch = new WatchSession(new Rpc.Watch.WatchClient(b.Channel), TimeSpan.FromMinutes(2));
        var created = await watch.CreateAsync(new Rpc.WatchCreateRequest { Key = Etcd.Bytes("/registry/cluster/"), RangeEnd = Etcd.PrefixEnd("/registry/cluster/"), WatchId = 1 });
        var viaA = await a.Kv.PutAsync(Etcd.Put("/registry/cluster/one", "from-a"));
        var viaB = await b.Kv.PutAsync(Etcd.Put("/registry/cluster/two", "from-b"));
        Assert.True(viaB.Header.Revision > viaA.Header.Revision);
        Assert.Equal("from-a", (await b.Kv.RangeAsync(Etcd.Get("/registry/cluster/one"))).Kvs.Single().Value.ToStringUtf8());
        var listed = await a.Kv.RangeAsync(Etcd.List("/registry/cluster/"));
        Assert.Equal(["from-a", "from-b"], listed.Kvs.Select(kv => kv.Value.ToStringUtf8()));
        Assert.True(listed.Header.Revision >= viaB.Header.Revision);

        for (var i = 0; i < 8; i++)
        {
            await frontends[i % 2].Kv.PutAsync(Etcd.Put($"/registry/spread{i}/k", $"v{i}"));
        }
        Assert.Equal(
            Enumerable.Range(0, 8).Select(i => $"v{i}"),
            (await frontends[1].Kv.RangeAsync(Etcd.List("/registry/spread"))).Kvs.Select(kv => kv.Value.ToStringUtf8()));

        var lease = (await new Rpc.Lease.LeaseClient(a.Channel).LeaseGrantAsync(new Rpc.LeaseGrantRequest { TTL = 600 })).ID;
        var leased = await b.Kv.PutAsync(new Rpc.PutRequest { Key = Etcd.Bytes("/registry/cluster/leased"), Value = Etcd.Bytes("v"), Lease = lease });
        var timeToLive = await new Rpc.Lease.LeaseClient(b.Channel).LeaseTimeToLiveAsync(new Rpc.LeaseTimeToLiveRequest { ID = lease, Keys = true });
        Assert.Equal(["/registry/cluster/leased"], timeToLive.Keys.Select(k => k.ToStringUtf8()));
        using (var keepAlive = new Rpc.Lease.LeaseClient(b.Channel).LeaseKeepAlive())
        {
            await keepAlive.RequestStream.WriteAsync(new Rpc.LeaseKeepAliveRequest { ID = lease });
            Assert.True(await keepAlive.ResponseStream.MoveNext());
            Assert.Equal(600, keepAlive.ResponseStream.Current.TTL);
            await keepAlive.RequestStream.CompleteAsync();
        }
        var revoked = await new Rpc.Lease.LeaseClient(a.Channel).LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = lease });
        Assert.Empty((await b.Kv.RangeAsync(Etcd.Get("/registry/cluster/leased"))).Kvs);

        var events = await watch.ReadEventsAsync(1, 4, Wait);
        Assert.Equal(
            [
                $"Put /registry/cluster/one {viaA.Header.Revision}",
                $"Put /registry/cluster/two {viaB.Header.Revision}",
                $"Put /registry/cluster/leased {leased.Header.Revision}",
                $"Delete /registry/cluster/leased {revoked.Header.Revision}",
            ],
            events.Select(e => $"{e.Type} {e.Kv.Key.ToStringUtf8()} {e.Kv.ModRevision}"));
        Assert.True(created.Header.Revision < viaA.Header.Revision);

        await b.KillAsync();

        var afterKill = await a.Kv.PutAsync(Etcd.Put("/registry/cluster/three", "after-kill"));
        Assert.Equal("after-kill", (await a.Kv.RangeAsync(Etcd.Get("/registry/cluster/three"))).Kvs.Single().Value.ToStringUtf8());
        Assert.True(afterKill.Header.Revision > revoked.Header.Revision);
        var deadline = DateTime.UtcNow + Wait;
        while ((await MembersAsync(a)).Count > 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "the killed frontend is still listed");
            await Task.Delay(500);
        }
        Assert.Equal($"fe-a {a.Endpoint}", (await MembersAsync(a)).Select(m => $"{m.Name} {m.ClientURLs.Single()}").Single());

        using var lastWatch = new Rpc.Watch.WatchClient(a.Channel).Watch();
        await lastWatch.RequestStream.WriteAsync(new Rpc.WatchRequest { CreateRequest = new Rpc.WatchCreateRequest { Key = Etcd.Bytes("/registry/cluster/one") } });
        Assert.True((await lastWatch.ResponseStream.MoveNext()) && lastWatch.ResponseStream.Current.Created);
        // The watch goes on after the client closes its sending side (as etcd's). With that side still open, .NET's
        // HTTP/2 client can report the connection the exiting process closes right behind the stream's last frames
        // instead of the stream's status (see StoppingStreamsTests).
        await lastWatch.RequestStream.CompleteAsync();
        var next = lastWatch.ResponseStream.MoveNext();
        var stopping = Stopwatch.StartNew();
        var exitCode = await a.TerminateAsync();
        Assert.True(exitCode == 0, $"exit status {exitCode}:\n{a.Output}");
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(20), $"SIGTERM took {stopping.Elapsed} with a watch open");
        var stopped = await Assert.ThrowsAsync<RpcException>(() => next);
        Assert.Equal((StatusCode.Unavailable, "etcdserver: server stopped"), (stopped.StatusCode, stopped.Status.Detail));
    }

    private static async Task<IReadOnlyList<Rpc.Member>> MembersAsync(ServerProcess frontend) =>
        (await new Rpc.Cluster.ClusterClient(frontend.Channel).MemberListAsync(new Rpc.MemberListRequest(), deadline: DateTime.UtcNow.AddSeconds(30))).Members;
}

using System.Text;
using Grpc.Core;
using KubeBrain.Grains.Storage;
using KubeBrain.Grains.Storage.InMemory;
using KubeBrain.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Xunit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Behaviour;

/// <summary>
/// A lease that ends, by a revoke or by expiry, while a flush is under way and the sequencer then deactivates (its
/// flush was fenced). Deleting the lease's keys goes through the key ranges back to the sequencer, and a
/// deactivating activation takes no new calls until every call it is running has ended: a deletion awaited inside
/// one of its calls or timer ticks would wait for itself until the call timed out, and an expiry timer retrying it
/// would keep the sequencer from ever deactivating. Here the revoke answers, the keys go, and writes go on.
/// </summary>
public sealed class LeaseDeactivationTests
{
    private static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData("revoke")]
    [InlineData("expiry")]
    public async Task ALeaseEndingAsTheSequencerDeactivatesStillLosesItsKeys(string ending)
    {
        var store = new GatedStore(new InMemoryMvccStore());
        await using var server = await KubeBrainInstance.StartAsync(customize: builder =>
        {
            builder.Services.AddSingleton<IMvccStore>(store);
            builder.Services.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = ResponseTimeout);
        });
        var leases = new Rpc.Lease.LeaseClient(server.Channel);
        var id = (await leases.LeaseGrantAsync(new Rpc.LeaseGrantRequest { TTL = ending == "expiry" ? 2 : 600 })).ID;
        var put = await server.Kv.PutAsync(new Rpc.PutRequest { Key = Etcd.Bytes("/leased"), Value = Etcd.Bytes("v"), Lease = id });
        using var watch = new Rpc.Watch.WatchClient(server.Channel).Watch();
        await watch.RequestStream.WriteAsync(new Rpc.WatchRequest
        {
            CreateRequest = new Rpc.WatchCreateRequest { Key = Etcd.Bytes("/leased"), StartRevision = put.Header.Revision + 1 },
        });
        Assert.True(await watch.ResponseStream.MoveNext() && watch.ResponseStream.Current.Created);

        var gate = store.HoldNextAppend(batch => batch.Rows.Any(r => Encoding.UTF8.GetString(r.Key) == "/held"));
        var held = server.Kv.PutAsync(Etcd.Put("/held", "v")).ResponseAsync;
        await gate.Reached;
        var revoked = ending == "revoke" ? leases.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id }).ResponseAsync : null;
        while ((await leases.LeaseTimeToLiveAsync(new Rpc.LeaseTimeToLiveRequest { ID = id })).TTL != -1)
        {
            await Task.Yield();
        }
        store.BeforeAppend = _ => throw new StoreFencedException("injected: a newer sequencer took the store");
        gate.Open();
        var fenced = await Assert.ThrowsAsync<RpcException>(() => held);
        Assert.Equal(StatusCode.Unavailable, fenced.StatusCode);
        store.BeforeAppend = null;

        if (revoked is not null)
        {
            var revision = (await revoked).Header.Revision;
            Assert.Empty((await server.Kv.RangeAsync(Etcd.Get("/leased"))).Kvs);
            Assert.Equal(revision, (await server.Kv.RangeAsync(Etcd.Get("/leased"))).Header.Revision);
        }
        await server.Kv.PutAsync(Etcd.Put("/after", "v"));
        Assert.True(await watch.ResponseStream.MoveNext());
        var deleted = Assert.Single(watch.ResponseStream.Current.Events);
        Assert.Equal(Protos.Mvccpb.Event.Types.EventType.Delete, deleted.Type);
    }
}

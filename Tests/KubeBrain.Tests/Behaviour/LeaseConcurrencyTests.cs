using System.Collections.Concurrent;
using Grpc.Core;
using KubeBrain.Silo;
using KubeBrain.Tests.Infrastructure;
using Xunit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Behaviour;

/// <summary>
/// A revoke racing puts that name the lease in twelve key ranges, which submit to the sequencer independently, so a
/// flush holding such puts is often under way when the lease ends: every put acknowledged is deleted by the revoke,
/// all in the revoke's one revision, and every put after the lease ended is refused with etcd's error, so no key is
/// left carrying a lease that no longer exists.
/// </summary>
public sealed class LeaseConcurrencyTests
{
    [Theory]
    [InlineData(StorageKind.Memory)]
    [InlineData(StorageKind.Sqlite)]
    public async Task ARevokeRacingPutsLeavesNoKeyCarryingTheLease(StorageKind storage)
    {
        await using var server = await KubeBrainInstance.StartAsync(storage);
        var lease = new Rpc.Lease.LeaseClient(server.Channel);
        var id = (await lease.LeaseGrantAsync(new Rpc.LeaseGrantRequest { TTL = 600 })).ID;
        string[] prefixes = [.. Enumerable.Range(0, 11).Select(r => $"/registry/race{r}/"), "/race/"];
        var acknowledged = new ConcurrentBag<string>();
        var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var writers = Enumerable.Range(0, 24).Select(w => Task.Run(async () =>
        {
            for (var n = 0; ; n++)
            {
                var key = $"{prefixes[w % prefixes.Length]}w{w}-{n}";
                try
                {
                    await server.Kv.PutAsync(new Rpc.PutRequest { Key = Etcd.Bytes(key), Value = Etcd.Bytes("v"), Lease = id });
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
                {
                    Assert.Equal("etcdserver: requested lease not found", e.Status.Detail);
                    return;
                }
                acknowledged.Add(key);
                if (acknowledged.Count >= 150)
                {
                    enough.TrySetResult();
                }
            }
        })).ToArray();
        await enough.Task.WaitAsync(TimeSpan.FromSeconds(60));

        var revoked = await lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id });
        await Task.WhenAll(writers);

        var revision = revoked.Header.Revision;
        foreach (var prefix in prefixes)
        {
            Assert.Equal(0, (await server.Kv.RangeAsync(Etcd.List(prefix))).Count);
        }
        var before = 0L;
        foreach (var prefix in prefixes)
        {
            before += (await server.Kv.RangeAsync(Etcd.List(prefix, revision: revision - 1))).Count;
        }
        Assert.Equal(acknowledged.Count, before);
        Assert.Equal(revision, (await server.Kv.RangeAsync(Etcd.Get("/race/probe"))).Header.Revision);
    }
}

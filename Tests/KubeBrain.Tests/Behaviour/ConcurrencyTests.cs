using System.Collections.Concurrent;
using System.Globalization;
using KubeBrain.Silo;
using KubeBrain.Tests.Infrastructure;
using Xunit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Behaviour;

/// <summary>
/// Many clients racing compare-and-swap increments on a few shared keys (I4: one writer per key): every
/// acknowledged increment counts exactly once, and the acknowledged revisions are exactly the revisions the
/// store advanced through (I1: dense, nothing burnt by failed compares).
/// </summary>
public sealed class ConcurrencyTests
{
    private const int Clients = 32;
    private const int IncrementsPerClient = 25;
    private const int SharedKeys = 4;

    [Theory]
    [InlineData(StorageKind.Memory)]
    [InlineData(StorageKind.Sqlite)]
    public async Task CasIncrementsFromManyClientsAddUpAndRevisionsAreDense(StorageKind storage)
    {
        await using var server = await KubeBrainInstance.StartAsync(storage);
        var keys = Enumerable.Range(0, SharedKeys).Select(i => $"/registry/counters/default/c{i}").ToArray();
        var revisions = new ConcurrentBag<long>();
        foreach (var key in keys)
        {
            revisions.Add((await server.Kv.PutAsync(Etcd.Put(key, "0"))).Header.Revision);
        }
        var start = (await server.Kv.RangeAsync(Etcd.Get(keys[0]))).Header.Revision;

        await Task.WhenAll(Enumerable.Range(0, Clients).Select(client => Task.Run(async () =>
        {
            for (var n = 0; n < IncrementsPerClient; n++)
            {
                var key = keys[(client + n) % SharedKeys];
                var current = (await server.Kv.RangeAsync(Etcd.Get(key))).Kvs.Single();
                while (true)
                {
                    var next = long.Parse(current.Value.ToStringUtf8(), CultureInfo.InvariantCulture) + 1;
                    var result = await server.Kv.TxnAsync(Etcd.Update(key, next.ToString(CultureInfo.InvariantCulture), current.ModRevision));
                    if (result.Succeeded)
                    {
                        revisions.Add(result.Header.Revision);
                        break;
                    }
                    current = result.Responses[0].ResponseRange.Kvs.Single();
                }
            }
        })));

        var total = 0L;
        foreach (var key in keys)
        {
            total += long.Parse((await server.Kv.RangeAsync(Etcd.Get(key))).Kvs.Single().Value.ToStringUtf8(), CultureInfo.InvariantCulture);
        }
        Assert.Equal(Clients * IncrementsPerClient, total);

        var end = (await server.Kv.RangeAsync(Etcd.Get(keys[0]))).Header.Revision;
        Assert.Equal(start + (Clients * IncrementsPerClient), end);
        Assert.Equal(Enumerable.Range(2, (int)(end - 1)).Select(r => (long)r), revisions.Order());
    }

    [Fact]
    public async Task ConcurrentPutsToOneKeyEachTakeOneRevisionInAcknowledgementOrder()
    {
        await using var server = await KubeBrainInstance.StartAsync();
        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            server.Kv.PutAsync(new Rpc.PutRequest { Key = Etcd.Bytes("hot"), Value = Etcd.Bytes($"v{i}"), PrevKv = true }).ResponseAsync));

        var byRevision = results.OrderBy(r => r.Header.Revision).ToList();
        Assert.Equal(Enumerable.Range(2, 200).Select(r => (long)r), byRevision.Select(r => r.Header.Revision));
        Assert.Null(byRevision[0].PrevKv);
        for (var i = 1; i < byRevision.Count; i++)
        {
            var prev = byRevision[i].PrevKv;
            Assert.Equal(byRevision[i - 1].Header.Revision, prev.ModRevision);
            Assert.Equal(i, prev.Version);
            Assert.Equal(2, prev.CreateRevision);
        }
        var final = (await server.Kv.RangeAsync(Etcd.Get("hot"))).Kvs.Single();
        Assert.Equal(200, final.Version);
        Assert.Equal(201, final.ModRevision);
    }

    /// <summary>
    /// A write validated on top of a pending write that then fails (here: its lease does not exist) must be
    /// validated again: the transaction may never see the value that was not committed.
    /// </summary>
    [Fact]
    public async Task WritesValidatedOnTopOfARefusedWriteAreValidatedAgain()
    {
        await using var server = await KubeBrainInstance.StartAsync();
        for (var round = 0; round < 50; round++)
        {
            var key = $"k{round}";
            var put = server.Kv.PutAsync(Etcd.Put(key, "a")).ResponseAsync;
            var refused = server.Kv.PutAsync(new Rpc.PutRequest { Key = Etcd.Bytes(key), Value = Etcd.Bytes("b"), Lease = 99 }).ResponseAsync;
            var txn = server.Kv.TxnAsync(new Rpc.TxnRequest
            {
                Compare = { new Rpc.Compare { Target = Rpc.Compare.Types.CompareTarget.Value, Key = Etcd.Bytes(key), Value = Etcd.Bytes("b") } },
                Success = { new Rpc.RequestOp { RequestPut = Etcd.Put(key, "saw-b") } },
                Failure = { new Rpc.RequestOp { RequestPut = Etcd.Put(key, "did-not-see-b") } },
            }).ResponseAsync;

            var putRevision = (await put).Header.Revision;
            var error = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => refused);
            Assert.Equal("etcdserver: requested lease not found", error.Status.Detail);
            var txnResult = await txn;
            Assert.False(txnResult.Succeeded);
            var final = (await server.Kv.RangeAsync(Etcd.Get(key))).Kvs.Single();
            Assert.Equal(Math.Max(putRevision, txnResult.Header.Revision), final.ModRevision);
            Assert.Equal(putRevision > txnResult.Header.Revision ? "a" : "did-not-see-b", final.Value.ToStringUtf8());
        }
    }
}

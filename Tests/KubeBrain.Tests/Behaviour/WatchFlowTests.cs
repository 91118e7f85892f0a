using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using KubeBrain.Tests.Infrastructure;
using Xunit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Behaviour;

/// <summary>Watch flows as the kube-apiserver and slow clients drive them, over real sockets.</summary>
public sealed class WatchFlowTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>1.34+'s compactor loop: Get compact_rev_key, Watch it from the read's revision + 1, parse each value.</summary>
    [Fact]
    public async Task TheCompactorWatchSeesEveryCompactRevKeyCas()
    {
        await using var fresh = await KubeBrainInstance.StartAsync();
        var read = await fresh.Kv.RangeAsync(Etcd.Get("compact_rev_key"));
        using var call = new Rpc.Watch.WatchClient(fresh.Channel).Watch();
        await call.RequestStream.WriteAsync(new Rpc.WatchRequest
        {
            CreateRequest = new Rpc.WatchCreateRequest { Key = Etcd.Bytes("compact_rev_key"), StartRevision = read.Header.Revision + 1 },
        });
        Assert.True((await NextAsync(call)).Created);

        var first = await fresh.Kv.TxnAsync(Etcd.CompactCas(0, 0));
        var second = await fresh.Kv.TxnAsync(Etcd.CompactCas(1, first.Header.Revision));

        var seen = new List<long>();
        while (seen.Count < 2)
        {
            foreach (var e in (await NextAsync(call)).Events)
            {
                seen.Add(long.Parse(e.Kv.Value.ToStringUtf8(), CultureInfo.InvariantCulture));
            }
        }
        Assert.Equal([0, first.Header.Revision], seen);
        Assert.True(second.Succeeded);
    }

    /// <summary>
    /// A client that stops reading its watch stream holds none of the others back: another stream receives every
    /// event while the first reads nothing, and the first later receives all of them, in order.
    /// </summary>
    [Fact]
    public async Task AWatcherThatStopsReadingNeverStallsTheOthers()
    {
        var prefix = $"/registry/slow/{Guid.NewGuid():N}/";
        using var slowChannel = GrpcChannel.ForAddress(server.Instance.Endpoint);
        using var slow = new Rpc.Watch.WatchClient(slowChannel).Watch();
        using var fast = new Rpc.Watch.WatchClient(server.Instance.Channel).Watch();
        foreach (var call in new[] { slow, fast })
        {
            await call.RequestStream.WriteAsync(new Rpc.WatchRequest
            {
                CreateRequest = new Rpc.WatchCreateRequest { Key = Etcd.Bytes(prefix), RangeEnd = Etcd.PrefixEnd(prefix) },
            });
            Assert.True((await NextAsync(call)).Created);
        }

        const int Writes = 400;
        var value = new string('v', 16 * 1024);
        var revisions = new List<long>();
        for (var i = 0; i < Writes; i++)
        {
            revisions.Add((await server.Instance.Kv.PutAsync(Etcd.Put($"{prefix}k{i % 10}", value))).Header.Revision);
        }

        Assert.Equal(revisions, await ReceiveAsync(fast, Writes));
        Assert.Equal(revisions, await ReceiveAsync(slow, Writes));
    }

    private static async Task<List<long>> ReceiveAsync(AsyncDuplexStreamingCall<Rpc.WatchRequest, Rpc.WatchResponse> call, int count)
    {
        var revisions = new List<long>();
        while (revisions.Count < count)
        {
            revisions.AddRange((await NextAsync(call)).Events.Select(e => e.Kv.ModRevision));
        }
        return revisions;
    }

    private static async Task<Rpc.WatchResponse> NextAsync(AsyncDuplexStreamingCall<Rpc.WatchRequest, Rpc.WatchResponse> call)
    {
        using var timeout = new CancellationTokenSource(Wait);
        Assert.True(await call.ResponseStream.MoveNext(timeout.Token), "the watch stream ended");
        return call.ResponseStream.Current;
    }
}

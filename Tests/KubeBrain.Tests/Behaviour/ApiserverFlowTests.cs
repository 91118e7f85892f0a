using System.Globalization;
using Google.Protobuf;
using KubeBrain.Tests.Infrastructure;
using Xunit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Behaviour;

/// <summary>The kube-apiserver's request shapes (etcd-contract §1.2, §1.3, §1.5), replayed over a real socket.</summary>
public sealed class ApiserverFlowTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private Rpc.KV.KVClient Kv => server.Instance.Kv;

    [Fact]
    public async Task CreateSucceedsOnceThenReportsAlreadyExists()
    {
        var key = $"/registry/pods/{Guid.NewGuid():N}/web";
        var created = await Kv.TxnAsync(Etcd.Create(key, "v1"));
        Assert.True(created.Succeeded);
        Assert.Equal(Rpc.ResponseOp.ResponseOneofCase.ResponsePut, Assert.Single(created.Responses).ResponseCase);

        var again = await Kv.TxnAsync(Etcd.Create(key, "v2"));
        Assert.False(again.Succeeded);
        Assert.Empty(again.Responses);
        Assert.Equal(created.Header.Revision, (await Kv.RangeAsync(Etcd.Get(key))).Kvs.Single().ModRevision);
    }

    [Fact]
    public async Task GuaranteedUpdateRetriesWithTheObjectFromTheFailureBranch()
    {
        var key = $"/registry/configmaps/{Guid.NewGuid():N}/cm";
        var created = await Kv.TxnAsync(Etcd.Create(key, "v1"));
        var updated = await Kv.TxnAsync(Etcd.Update(key, "v2", created.Header.Revision));
        Assert.True(updated.Succeeded);

        var stale = await Kv.TxnAsync(Etcd.Update(key, "v3", created.Header.Revision));
        Assert.False(stale.Succeeded);
        var current = Assert.Single(Assert.Single(stale.Responses).ResponseRange.Kvs);
        Assert.Equal("v2", current.Value.ToStringUtf8());
        Assert.Equal(updated.Header.Revision, current.ModRevision);
        Assert.Equal(created.Header.Revision, current.CreateRevision);
        Assert.Equal(2, current.Version);

        var retried = await Kv.TxnAsync(Etcd.Update(key, "v3", current.ModRevision));
        Assert.True(retried.Succeeded);
    }

    [Fact]
    public async Task ConditionalDeleteAnswersDeleteRangeOnSuccessAndRangeOnFailure()
    {
        var key = $"/registry/deployments/{Guid.NewGuid():N}/app";
        var created = await Kv.TxnAsync(Etcd.Create(key, "v1"));

        var stale = await Kv.TxnAsync(Etcd.Delete(key, created.Header.Revision - 1));
        Assert.False(stale.Succeeded);
        Assert.Single(Assert.Single(stale.Responses).ResponseRange.Kvs);

        var deleted = await Kv.TxnAsync(Etcd.Delete(key, created.Header.Revision));
        Assert.True(deleted.Succeeded);
        var response = Assert.Single(deleted.Responses).ResponseDeleteRange;
        Assert.NotNull(response);
        Assert.NotNull(response.Header);
        Assert.Equal(1, response.Deleted);

        var gone = await Kv.TxnAsync(Etcd.Delete(key, created.Header.Revision));
        Assert.False(gone.Succeeded);
        Assert.Empty(Assert.Single(gone.Responses).ResponseRange.Kvs);
    }

    [Fact]
    public async Task CompactorCasThenCompactAsTheApiserverDoes()
    {
        await using var fresh = await KubeBrainInstance.StartAsync();
        var kv = fresh.Kv;
        var first = await kv.TxnAsync(Etcd.CompactCas(0, 0));
        Assert.True(first.Succeeded);
        await kv.PutAsync(Etcd.Put("/registry/leases/kube-system/x", "a"));

        var lost = await kv.TxnAsync(Etcd.CompactCas(0, first.Header.Revision));
        Assert.False(lost.Succeeded);
        var remote = Assert.Single(Assert.Single(lost.Responses).ResponseRange.Kvs);
        Assert.Equal(1, remote.Version);
        Assert.Equal("0", remote.Value.ToStringUtf8());

        var won = await kv.TxnAsync(Etcd.CompactCas(remote.Version, first.Header.Revision));
        Assert.True(won.Succeeded);
        var watched = await kv.RangeAsync(Etcd.Get("compact_rev_key"));
        Assert.Equal(first.Header.Revision, long.Parse(watched.Kvs[0].Value.ToStringUtf8(), CultureInfo.InvariantCulture));

        await kv.CompactAsync(new Rpc.CompactionRequest { Revision = first.Header.Revision });
        var error = await Assert.ThrowsAsync<Grpc.Core.RpcException>(async () =>
            await kv.RangeAsync(new Rpc.RangeRequest { Key = Etcd.Bytes("compact_rev_key"), Revision = first.Header.Revision - 1 }));
        Assert.Equal("etcdserver: mvcc: required revision has been compacted", error.Status.Detail);
    }

    [Fact]
    public async Task PagedListStaysPinnedToTheFirstPageRevisionWhileWritesContinue()
    {
        var prefix = $"/registry/pods/{Guid.NewGuid():N}/";
        for (var i = 0; i < 25; i++)
        {
            await Kv.PutAsync(Etcd.Put($"{prefix}pod-{i:D2}", $"v{i}"));
        }
        var first = await Kv.RangeAsync(Etcd.List(prefix, limit: 10));
        var pinned = first.Header.Revision;
        Assert.Equal(25, first.Count);
        Assert.True(first.More);

        var seen = first.Kvs.ToList();
        var continueKey = first.Kvs[^1].Key;
        var page = 0;
        while (true)
        {
            await Kv.PutAsync(Etcd.Put($"{prefix}pod-{page:D2}", "changed"));
            await Kv.PutAsync(Etcd.Put($"{prefix}pod-new-{page}", "new"));
            await Kv.DeleteRangeAsync(new Rpc.DeleteRangeRequest { Key = Etcd.Bytes($"{prefix}pod-{24 - page:D2}") });
            var next = await Kv.RangeAsync(new Rpc.RangeRequest
            {
                Key = ByteString.CopyFrom([.. continueKey, 0]),
                RangeEnd = Etcd.PrefixEnd(prefix),
                Limit = 10,
                Revision = pinned,
            });
            Assert.True(next.Header.Revision > pinned);
            seen.AddRange(next.Kvs);
            page++;
            if (!next.More)
            {
                break;
            }
            continueKey = next.Kvs[^1].Key;
        }

        Assert.Equal(3, page + 1);
        Assert.Equal(
            Enumerable.Range(0, 25).Select(i => ($"{prefix}pod-{i:D2}", $"v{i}")),
            seen.Select(kv => (kv.Key.ToStringUtf8(), kv.Value.ToStringUtf8())));
        Assert.All(seen, kv => Assert.True(kv.ModRevision <= pinned));
    }

    [Fact]
    public async Task CurrentResourceVersionAndHealthProbeAreAnswered()
    {
        var written = await Kv.PutAsync(Etcd.Put($"/registry/pods/{Guid.NewGuid():N}/p", "v"));
        var current = await Kv.RangeAsync(new Rpc.RangeRequest { Key = Etcd.Bytes("/registry/pods"), Limit = 1 });
        Assert.True(current.Header.Revision >= written.Header.Revision);
        Assert.Empty(current.Kvs);

        var health = await Kv.RangeAsync(Etcd.Get("/registry/health"));
        Assert.True(health.Header.Revision >= written.Header.Revision);
    }

    [Fact]
    public async Task ReadsWritesAndDeletesSpanningResourceRangesAreAtomic()
    {
        var ns = Guid.NewGuid().ToString("N");
        var keys = new[] { $"/registry/pods/{ns}/a", $"/registry/services/specs/{ns}/b", $"/registry/secrets/{ns}/c" };
        var txn = new Rpc.TxnRequest();
        foreach (var key in keys)
        {
            txn.Compare.Add(new Rpc.Compare { Target = Rpc.Compare.Types.CompareTarget.Version, Key = Etcd.Bytes(key), Version = 0 });
            txn.Success.Add(new Rpc.RequestOp { RequestPut = Etcd.Put(key, "v") });
        }
        var written = await Kv.TxnAsync(txn);
        Assert.True(written.Succeeded);
        var revisions = new List<long>();
        foreach (var key in keys)
        {
            var kv = (await Kv.RangeAsync(Etcd.Get(key))).Kvs.Single();
            revisions.Add(kv.ModRevision);
        }
        Assert.All(revisions, r => Assert.Equal(written.Header.Revision, r));

        var all = await Kv.RangeAsync(new Rpc.RangeRequest { Key = Etcd.Bytes("/registry/"), RangeEnd = Etcd.PrefixEnd("/registry/"), KeysOnly = true });
        Assert.Superset(keys.ToHashSet(), all.Kvs.Select(kv => kv.Key.ToStringUtf8()).ToHashSet());
        Assert.Equal(all.Kvs.Select(kv => kv.Key.ToStringUtf8()).Order(StringComparer.Ordinal), all.Kvs.Select(kv => kv.Key.ToStringUtf8()));

        var deleteAll = new Rpc.TxnRequest();
        foreach (var key in keys)
        {
            deleteAll.Success.Add(new Rpc.RequestOp { RequestDeleteRange = new Rpc.DeleteRangeRequest { Key = Etcd.Bytes(key), PrevKv = true } });
        }
        var deleted = await Kv.TxnAsync(deleteAll);
        Assert.All(deleted.Responses, r => Assert.Equal(1, r.ResponseDeleteRange.Deleted));
        Assert.Equal(written.Header.Revision + 1, deleted.Header.Revision);
        foreach (var key in keys)
        {
            Assert.Empty((await Kv.RangeAsync(Etcd.Get(key))).Kvs);
        }
    }
}

using Grpc.Core;
using Xunit;
using static KubeBrain.Tests.Wire.WireHelpers;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Wire;

/// <summary>KV.DeleteRange as etcd answers it; run against KubeBrain and, as the oracle, against etcd 3.4.</summary>
public abstract class DeleteRangeContract(WireFixture fixture)
{
    private Rpc.KV.KVClient Kv => fixture.Target.Kv;

    private async Task<long> PutAllAsync(params string[] keys)
    {
        long revision = 0;
        foreach (var key in keys)
        {
            revision = (await Kv.PutAsync(Put(key, "value of " + key))).Header.Revision;
        }
        return revision;
    }

    [Fact]
    public async Task SingleKey_DeletesOnlyThatKey_InANewRevision()
    {
        var p = NewPrefix("delete");
        var before = await PutAllAsync(p + "a", p + "a0", p + "ab");

        var response = await Kv.DeleteRangeAsync(Delete(p + "a"));

        Assert.Equal(1, response.Deleted);
        Assert.Equal(before + 1, response.Header.Revision);
        Assert.Empty(response.PrevKvs);
        Assert.Equal([p + "a0", p + "ab"], Keys(await Kv.RangeAsync(Prefix(p))));
    }

    [Fact]
    public async Task Range_DeletesTheHalfOpenInterval_InOneRevision()
    {
        var p = NewPrefix("delete");
        var before = await PutAllAsync(p + "a", p + "b", p + "c", p + "d");

        var response = await Kv.DeleteRangeAsync(new Rpc.DeleteRangeRequest { Key = B(p + "b"), RangeEnd = B(p + "d") });

        Assert.Equal(2, response.Deleted);
        Assert.Equal(before + 1, response.Header.Revision);
        Assert.Equal([p + "a", p + "d"], Keys(await Kv.RangeAsync(Prefix(p))));
        Assert.Equal(before + 1, await CurrentRevisionAsync(Kv));
    }

    [Fact]
    public async Task Prefix_DeletesEverythingUnderIt_AndNothingElse()
    {
        var p = NewPrefix("delete");
        var end = S(PrefixEnd(p));
        await PutAllAsync(p + "a", p + "b/c", end, p[..^1]);

        var response = await Kv.DeleteRangeAsync(new Rpc.DeleteRangeRequest { Key = B(p), RangeEnd = PrefixEnd(p) });

        Assert.Equal(2, response.Deleted);
        Assert.Empty((await Kv.RangeAsync(Prefix(p))).Kvs);
        Assert.Single((await Kv.RangeAsync(Get(end))).Kvs);
        Assert.Single((await Kv.RangeAsync(Get(p[..^1]))).Kvs);
    }

    [Fact]
    public async Task FromKey_DeletesEveryKeyFromKeyOn()
    {
        // 0xFE sorts after every other test's keys on this server.
        var p = "\u00fe" + Guid.NewGuid().ToString("N") + "/";
        await PutAllAsync(p + "a", p + "b", p + "c");

        var response = await Kv.DeleteRangeAsync(new Rpc.DeleteRangeRequest { Key = B(p + "b"), RangeEnd = FromKey, PrevKv = true });

        Assert.Equal(2, response.Deleted);
        Assert.Equal([p + "b", p + "c"], response.PrevKvs.Select(kv => S(kv.Key)));
        Assert.Equal([p + "a"], Keys(await Kv.RangeAsync(Prefix(p))));
    }

    [Fact]
    public async Task PrevKv_AnswersEveryDeletedKeyValue_InKeyOrder()
    {
        var p = NewPrefix("delete");
        var rb = await PutAllAsync(p + "b");
        var ra = await PutAllAsync(p + "a");
        var rb2 = (await Kv.PutAsync(Put(p + "b", "second"))).Header.Revision;

        var response = await Kv.DeleteRangeAsync(new Rpc.DeleteRangeRequest { Key = B(p), RangeEnd = PrefixEnd(p), PrevKv = true });

        Assert.Equal(2, response.Deleted);
        Assert.Equal(2, response.PrevKvs.Count);
        AssertKv(response.PrevKvs[0], p + "a", "value of " + p + "a", ra, ra, 1);
        AssertKv(response.PrevKvs[1], p + "b", "second", rb, rb2, 2);
    }

    [Fact]
    public async Task DeletingNothing_TakesNoRevision_AndAnswersTheCurrentOne()
    {
        var p = NewPrefix("delete");
        var current = await PutAllAsync(p + "present");

        var single = await Kv.DeleteRangeAsync(Delete(p + "absent"));
        var range = await Kv.DeleteRangeAsync(new Rpc.DeleteRangeRequest { Key = B(p + "x"), RangeEnd = B(p + "z"), PrevKv = true });
        var next = (await Kv.PutAsync(Put(p + "next", "n"))).Header.Revision;

        Assert.Equal((0L, current), (single.Deleted, single.Header.Revision));
        Assert.Equal((0L, current), (range.Deleted, range.Header.Revision));
        Assert.Empty(range.PrevKvs);
        Assert.Equal(current + 1, next);
    }

    [Fact]
    public async Task DeletedKeys_StayReadableAtEarlierRevisions()
    {
        var p = NewPrefix("delete");
        var written = await PutAllAsync(p + "k");
        var deleted = (await Kv.DeleteRangeAsync(Delete(p + "k"))).Header.Revision;

        var before = await Kv.RangeAsync(new Rpc.RangeRequest { Key = B(p + "k"), Revision = written });
        var at = await Kv.RangeAsync(new Rpc.RangeRequest { Key = B(p + "k"), Revision = deleted });

        AssertKv(Assert.Single(before.Kvs), p + "k", "value of " + p + "k", written, written, 1);
        Assert.Empty(at.Kvs);
    }

    [Fact]
    public async Task EmptyKey_IsInvalidArgument()
    {
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, EmptyKey,
            () => Kv.DeleteRangeAsync(new Rpc.DeleteRangeRequest { RangeEnd = B("z") }).ResponseAsync);
    }
}

public sealed class DeleteRangeTests(KubeBrainFixture fixture) : DeleteRangeContract(fixture), IClassFixture<KubeBrainFixture>;

public sealed class DeleteRangeTestsOnEtcd(EtcdFixture fixture) : DeleteRangeContract(fixture), IClassFixture<EtcdFixture>;

public sealed class DeleteRangeTestsOnSqlite(SqliteKubeBrainFixture fixture) : DeleteRangeContract(fixture), IClassFixture<SqliteKubeBrainFixture>;

using Grpc.Core;
using Xunit;
using static KubeBrain.Tests.Wire.WireHelpers;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Wire;

/// <summary>
/// KV.Compact as etcd answers it; run against KubeBrain and, as the oracle, against etcd 3.4. Compaction is
/// store-wide, so these tests have their own server, and each compacts only at revisions it wrote itself (always
/// above the previous test's compaction, since tests of a class run one after another).
/// </summary>
public abstract class CompactContract(WireFixture fixture)
{
    private Rpc.KV.KVClient Kv => fixture.Target.Kv;

    private async Task<long> PutAsync(string key, string value) => (await Kv.PutAsync(Put(key, value))).Header.Revision;

    private Task<Rpc.RangeResponse> RangeAtAsync(Rpc.RangeRequest request, long revision)
    {
        request.Revision = revision;
        return Kv.RangeAsync(request).ResponseAsync;
    }

    private Task<Rpc.CompactionResponse> CompactAsync(long revision, bool physical = false) =>
        Kv.CompactAsync(new Rpc.CompactionRequest { Revision = revision, Physical = physical }).ResponseAsync;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Compact_RemovesHistoryBelow_AndKeepsTheNewestVersionAtOrBelowOfEachKey(bool physical)
    {
        var p = NewPrefix("compact");
        var r1 = await PutAsync(p + "k", "v1");
        var r2 = await PutAsync(p + "k", "v2");
        var r3 = await PutAsync(p + "other", "o");
        var r4 = await PutAsync(p + "k", "v3");
        var current = await PutAsync(p + "late", "l");

        var response = await CompactAsync(r3, physical);

        Assert.Equal(current, response.Header.Revision);
        await AssertRpcErrorAsync(StatusCode.OutOfRange, Compacted, () => RangeAtAsync(Get(p + "k"), r3 - 1));
        await AssertRpcErrorAsync(StatusCode.OutOfRange, Compacted, () => RangeAtAsync(Get(p + "k"), r1));
        await AssertRpcErrorAsync(StatusCode.OutOfRange, Compacted, () => RangeAtAsync(Prefix(p), r2));
        var countOnly = Prefix(p);
        countOnly.CountOnly = true;
        await AssertRpcErrorAsync(StatusCode.OutOfRange, Compacted, () => RangeAtAsync(countOnly, r1));
        // Reading exactly at the compaction revision works and sees the newest version <= r3 of every key.
        var atCompaction = await RangeAtAsync(Prefix(p), r3);
        Assert.Equal(2, atCompaction.Kvs.Count);
        AssertKv(atCompaction.Kvs[0], p + "k", "v2", r1, r2, 2);
        AssertKv(atCompaction.Kvs[1], p + "other", "o", r3, r3, 1);
        Assert.Equal(current, atCompaction.Header.Revision);
        var atR4 = await RangeAtAsync(Get(p + "k"), r4);
        AssertKv(Assert.Single(atR4.Kvs), p + "k", "v3", r1, r4, 3);
        Assert.Equal(3, (await Kv.RangeAsync(Prefix(p))).Count);
    }

    [Fact]
    public async Task Compact_DropsTombstonesAtOrBelow_AndDeletedKeysStayDeleted()
    {
        var p = NewPrefix("compact");
        var written = await PutAsync(p + "gone", "g");
        var deleted = (await Kv.DeleteRangeAsync(Delete(p + "gone"))).Header.Revision;
        var kept = await PutAsync(p + "kept", "k");

        await CompactAsync(kept);

        var atCompaction = await RangeAtAsync(Prefix(p), kept);
        Assert.Equal([p + "kept"], Keys(atCompaction));
        Assert.Equal([p + "kept"], Keys(await Kv.RangeAsync(Prefix(p))));
        await AssertRpcErrorAsync(StatusCode.OutOfRange, Compacted, () => RangeAtAsync(Get(p + "gone"), written));
        await AssertRpcErrorAsync(StatusCode.OutOfRange, Compacted, () => RangeAtAsync(Get(p + "gone"), deleted));
        // The key can be created again, with a fresh history.
        var again = await PutAsync(p + "gone", "again");
        AssertKv(Assert.Single((await Kv.RangeAsync(Get(p + "gone"))).Kvs), p + "gone", "again", again, again, 1);
    }

    [Fact]
    public async Task Compact_AtOrBelowTheCompactionRevision_IsErrCompacted_AndAboveTheCurrent_IsErrFutureRev()
    {
        var p = NewPrefix("compact");
        var r1 = await PutAsync(p + "a", "1");
        var r2 = await PutAsync(p + "a", "2");

        await CompactAsync(r2);

        await AssertRpcErrorAsync(StatusCode.OutOfRange, Compacted, () => CompactAsync(r2));
        await AssertRpcErrorAsync(StatusCode.OutOfRange, Compacted, () => CompactAsync(r1));
        await AssertRpcErrorAsync(StatusCode.OutOfRange, FutureRevision, () => CompactAsync(r2 + 1));
        await AssertRpcErrorAsync(StatusCode.OutOfRange, FutureRevision, () => CompactAsync(r2 + 1000));
        var r3 = await PutAsync(p + "a", "3");
        Assert.Equal(r3, (await CompactAsync(r3)).Header.Revision);
    }

    [Fact]
    public async Task Compact_AtTheCurrentRevision_KeepsTheLatestState_AndWritesContinue()
    {
        var p = NewPrefix("compact");
        await PutAsync(p + "a", "1");
        var current = await PutAsync(p + "a", "2");

        var response = await CompactAsync(current, physical: true);

        Assert.Equal(current, response.Header.Revision);
        var latest = await Kv.RangeAsync(Prefix(p));
        AssertKv(Assert.Single(latest.Kvs), p + "a", "2", current - 1, current, 2);
        Assert.Equal(current, latest.Header.Revision);
        Assert.Equal(current + 1, await PutAsync(p + "a", "3"));
        var txn = await Kv.TxnAsync(Txn([Cmp(p + "a", Rpc.Compare.Types.CompareTarget.Version, Rpc.Compare.Types.CompareResult.Equal, 3)], [OpGet(p + "a")]));
        Assert.True(txn.Succeeded);
        Assert.Equal(current - 1, txn.Responses[0].ResponseRange.Kvs[0].CreateRevision);
    }

    [Fact]
    public async Task FutureRevisionRead_AfterCompaction_IsStillErrFutureRev()
    {
        var p = NewPrefix("compact");
        var current = await PutAsync(p + "a", "1");
        await CompactAsync(current);

        await AssertRpcErrorAsync(StatusCode.OutOfRange, FutureRevision, () => RangeAtAsync(Get(p + "a"), current + 1));
    }
}

public sealed class CompactTests(KubeBrainFixture fixture) : CompactContract(fixture), IClassFixture<KubeBrainFixture>;

public sealed class CompactTestsOnEtcd(EtcdFixture fixture) : CompactContract(fixture), IClassFixture<EtcdFixture>;

public sealed class CompactTestsOnSqlite(SqliteKubeBrainFixture fixture) : CompactContract(fixture), IClassFixture<SqliteKubeBrainFixture>;

using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Xunit;
using static KubeBrain.Tests.Wire.WireHelpers;
using Rpc = KubeBrain.Protos.Etcdserverpb;
using SortOrder = KubeBrain.Protos.Etcdserverpb.RangeRequest.Types.SortOrder;
using SortTarget = KubeBrain.Protos.Etcdserverpb.RangeRequest.Types.SortTarget;

namespace KubeBrain.Tests.Wire;

/// <summary>KV.Range as etcd answers it; run against KubeBrain and, as the oracle, against etcd 3.4.</summary>
public abstract class RangeContract(WireFixture fixture)
{
    private Rpc.KV.KVClient Kv => fixture.Target.Kv;

    /// <summary>Puts each key=value in order and answers the revision of the last put.</summary>
    private async Task<long> PutAllAsync(params (string Key, string Value)[] kvs)
    {
        long revision = 0;
        foreach (var (key, value) in kvs)
        {
            revision = (await Kv.PutAsync(Put(key, value))).Header.Revision;
        }
        return revision;
    }

    [Fact]
    public async Task SingleKey_AnswersOnlyThatKey_WithAllFields()
    {
        var p = NewPrefix("range");
        var created = (await Kv.PutAsync(Put(p + "a", "1"))).Header.Revision;
        await PutAllAsync((p + "ab", "x"), (p + "a0", "y"));
        var modified = (await Kv.PutAsync(Put(p + "a", "2"))).Header.Revision;

        var response = await Kv.RangeAsync(Get(p + "a"));

        var kv = Assert.Single(response.Kvs);
        AssertKv(kv, p + "a", "2", created, modified, version: 2);
        Assert.Equal(1, response.Count);
        Assert.False(response.More);
        Assert.Equal(modified, response.Header.Revision);
    }

    [Fact]
    public async Task MissingKey_AnswersNoKvs_CountZero_AndTheCurrentRevision()
    {
        var p = NewPrefix("range");
        var revision = await PutAllAsync((p + "present", "1"));

        var response = await Kv.RangeAsync(Get(p + "absent"));

        Assert.Empty(response.Kvs);
        Assert.Equal(0, response.Count);
        Assert.False(response.More);
        Assert.Equal(revision, response.Header.Revision);
    }

    [Fact]
    public async Task RangeEnd_IsHalfOpen()
    {
        var p = NewPrefix("range");
        await PutAllAsync((p + "a", "1"), (p + "b", "2"), (p + "c", "3"), (p + "d", "4"));

        var response = await Kv.RangeAsync(new Rpc.RangeRequest { Key = B(p + "b"), RangeEnd = B(p + "d") });

        Assert.Equal([p + "b", p + "c"], Keys(response));
        Assert.Equal(2, response.Count);
    }

    [Fact]
    public async Task Prefix_IncludesEveryKeyUnderIt_AndNothingAtThePrefixEnd()
    {
        var p = NewPrefix("range");
        var end = S(PrefixEnd(p));
        await PutAllAsync((p + "b", "2"), (p + "a", "1"), (p + "a/deeper", "3"), (end, "outside"), (p[..^1], "parent"));

        var response = await Kv.RangeAsync(Prefix(p));

        Assert.Equal([p + "a", p + "a/deeper", p + "b"], Keys(response));
        Assert.Equal(3, response.Count);
    }

    [Fact]
    public async Task FromKey_RangeEndZeroByte_ReadsEveryKeyFromKeyOn()
    {
        // 0xFE sorts after every other test's keys on this server, so the tail of the keyspace is this test's.
        var p = "\u00fe" + Guid.NewGuid().ToString("N") + "/";
        await PutAllAsync((p + "a", "1"), (p + "b", "2"), (p + "c", "3"));

        var fromB = await Kv.RangeAsync(new Rpc.RangeRequest { Key = B(p + "b"), RangeEnd = FromKey });
        var everything = await Kv.RangeAsync(new Rpc.RangeRequest { Key = FromKey, RangeEnd = FromKey, KeysOnly = true });

        Assert.Equal([p + "b", p + "c"], Keys(fromB));
        Assert.Equal(2, fromB.Count);
        Assert.Contains(p + "a", Keys(everything));
        Assert.Equal(everything.Count, everything.Kvs.Count);
        Assert.All(everything.Kvs.Zip(everything.Kvs.Skip(1)), pair => Assert.True(pair.First.Key.Span.SequenceCompareTo(pair.Second.Key.Span) < 0));
    }

    [Fact]
    public async Task BinaryKeys_WithZeroAndHighBytes_RoundTrip()
    {
        var p = NewPrefix("range");
        var key = ByteString.CopyFrom([.. Encoding.UTF8.GetBytes(p), 0x00, 0xff, 0x01]);
        var value = ByteString.CopyFrom(0x00, 0x80, 0xff);
        await Kv.PutAsync(new Rpc.PutRequest { Key = key, Value = value });

        var exact = await Kv.RangeAsync(new Rpc.RangeRequest { Key = key });
        var prefixed = await Kv.RangeAsync(Prefix(p));

        Assert.Equal(key, Assert.Single(exact.Kvs).Key);
        Assert.Equal(value, exact.Kvs[0].Value);
        Assert.Equal(key, Assert.Single(prefixed.Kvs).Key);
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(4, true)]
    [InlineData(5, false)]
    [InlineData(10, false)]
    [InlineData(0, false)]
    public async Task Limit_TruncatesInKeyOrder_SetsMore_AndCountIsTheTotal(long limit, bool more)
    {
        var p = NewPrefix("range");
        await PutAllAsync((p + "e", "5"), (p + "c", "3"), (p + "a", "1"), (p + "d", "4"), (p + "b", "2"));
        var request = Prefix(p);
        request.Limit = limit;

        var response = await Kv.RangeAsync(request);

        string[] all = [p + "a", p + "b", p + "c", p + "d", p + "e"];
        Assert.Equal(limit is > 0 and < 5 ? all[..(int)limit] : all, Keys(response));
        Assert.Equal(more, response.More);
        Assert.Equal(5, response.Count);
    }

    [Fact]
    public async Task CountOnly_AnswersTheCount_WithoutKvs_EvenWithALimit()
    {
        var p = NewPrefix("range");
        await PutAllAsync((p + "a", "1"), (p + "b", "2"), (p + "c", "3"));
        var request = Prefix(p);
        request.CountOnly = true;
        var limited = Prefix(p);
        limited.CountOnly = true;
        limited.Limit = 1;

        var response = await Kv.RangeAsync(request);
        var limitedResponse = await Kv.RangeAsync(limited);

        Assert.Empty(response.Kvs);
        Assert.Equal(3, response.Count);
        Assert.False(response.More);
        Assert.Empty(limitedResponse.Kvs);
        Assert.Equal(3, limitedResponse.Count);
    }

    [Fact]
    public async Task KeysOnly_ClearsValues_AndKeepsTheOtherFields()
    {
        var p = NewPrefix("range");
        var first = await PutAllAsync((p + "a", "1"));
        var second = await PutAllAsync((p + "a", "11"), (p + "b", "2"));
        var request = Prefix(p);
        request.KeysOnly = true;

        var response = await Kv.RangeAsync(request);

        Assert.Equal(2, response.Kvs.Count);
        AssertKv(response.Kvs[0], p + "a", "", first, second - 1, version: 2);
        AssertKv(response.Kvs[1], p + "b", "", second, second, version: 1);
        Assert.Equal(2, response.Count);
    }

    [Fact]
    public async Task Revision_ReadsHistory_AndTheHeaderIsTheCurrentRevision()
    {
        var p = NewPrefix("range");
        var r1 = await PutAllAsync((p + "k", "v1"));
        var r2 = await PutAllAsync((p + "k", "v2"));
        var r3 = (await Kv.DeleteRangeAsync(Delete(p + "k"))).Header.Revision;
        var r4 = await PutAllAsync((p + "k", "v3"));
        var r5 = await PutAllAsync((p + "other", "o"));

        async Task<Rpc.RangeResponse> At(long revision, Rpc.RangeRequest request)
        {
            request.Revision = revision;
            return await Kv.RangeAsync(request);
        }

        AssertKv(Assert.Single((await At(r1, Get(p + "k"))).Kvs), p + "k", "v1", r1, r1, 1);
        AssertKv(Assert.Single((await At(r2, Get(p + "k"))).Kvs), p + "k", "v2", r1, r2, 2);
        Assert.Empty((await At(r3, Get(p + "k"))).Kvs);
        AssertKv(Assert.Single((await At(r4, Get(p + "k"))).Kvs), p + "k", "v3", r4, r4, 1);
        var before = await At(r4, Prefix(p));
        Assert.Equal([p + "k"], Keys(before));
        Assert.Equal(1, before.Count);
        Assert.Equal(r5, before.Header.Revision);
        Assert.Equal(2, (await At(r5, Prefix(p))).Count);
        Assert.Equal(2, (await At(-1, Prefix(p))).Count);
    }

    [Fact]
    public async Task Revision_AboveTheCurrent_IsErrFutureRev()
    {
        var current = await CurrentRevisionAsync(Kv);
        var request = Get(NewPrefix("range") + "k");
        request.Revision = current + 1000;

        await AssertRpcErrorAsync(StatusCode.OutOfRange, FutureRevision, () => Kv.RangeAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task EmptyKey_IsInvalidArgument()
    {
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, EmptyKey, () => Kv.RangeAsync(new Rpc.RangeRequest()).ResponseAsync);
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, EmptyKey, () => Kv.RangeAsync(new Rpc.RangeRequest { RangeEnd = B("z") }).ResponseAsync);
    }

    /// <summary>
    /// Three keys whose orders by key, version, create revision, mod revision and value all differ (no ties):
    /// a: version 3, created 2nd, modified last, value "v5"; b: version 2, created 3rd, modified 5th, value "v4";
    /// c: version 1, created 1st, modified 1st, value "z".
    /// </summary>
    private async Task<string> SortableKeysAsync()
    {
        var p = NewPrefix("range-sort");
        await PutAllAsync((p + "c", "z"), (p + "a", "v3"), (p + "b", "v1"), (p + "a", "v0"), (p + "b", "v4"), (p + "a", "v5"));
        return p;
    }

    [Theory]
    [InlineData(SortTarget.Key, SortOrder.Ascend, "abc")]
    [InlineData(SortTarget.Key, SortOrder.Descend, "cba")]
    [InlineData(SortTarget.Key, SortOrder.None, "abc")]
    [InlineData(SortTarget.Version, SortOrder.Ascend, "cba")]
    [InlineData(SortTarget.Version, SortOrder.Descend, "abc")]
    [InlineData(SortTarget.Create, SortOrder.Ascend, "cab")]
    [InlineData(SortTarget.Create, SortOrder.Descend, "bac")]
    [InlineData(SortTarget.Mod, SortOrder.Ascend, "cba")]
    [InlineData(SortTarget.Mod, SortOrder.Descend, "abc")]
    [InlineData(SortTarget.Value, SortOrder.Ascend, "bac")]
    [InlineData(SortTarget.Value, SortOrder.Descend, "cab")]
    public async Task Sort_OrdersByTheTarget(SortTarget target, SortOrder order, string expected)
    {
        var p = await SortableKeysAsync();
        var request = Prefix(p);
        request.SortTarget = target;
        request.SortOrder = order;

        var response = await Kv.RangeAsync(request);

        Assert.Equal([.. expected.Select(c => p + c)], Keys(response));
        Assert.Equal(3, response.Count);
    }

    [Theory]
    [InlineData(SortTarget.Version, "cba")]
    [InlineData(SortTarget.Create, "cab")]
    [InlineData(SortTarget.Mod, "cba")]
    [InlineData(SortTarget.Value, "bac")]
    public async Task Sort_NoOrderWithATargetOtherThanKey_SortsAscending(SortTarget target, string expected)
    {
        var p = await SortableKeysAsync();
        var request = Prefix(p);
        request.SortTarget = target;

        var response = await Kv.RangeAsync(request);

        Assert.Equal([.. expected.Select(c => p + c)], Keys(response));
    }

    [Fact]
    public async Task Sort_WithLimit_SortsEverythingThenTruncates()
    {
        var p = await SortableKeysAsync();
        var request = Prefix(p);
        request.SortTarget = SortTarget.Create;
        request.SortOrder = SortOrder.Descend;
        request.Limit = 2;

        var response = await Kv.RangeAsync(request);

        Assert.Equal([p + "b", p + "a"], Keys(response));
        Assert.True(response.More);
        Assert.Equal(3, response.Count);
    }

    [Fact]
    public async Task Serializable_ReadsTheSameData()
    {
        var p = NewPrefix("range");
        var revision = await PutAllAsync((p + "a", "1"), (p + "b", "2"));
        var request = Prefix(p);
        request.Serializable = true;

        var response = await Kv.RangeAsync(request);

        Assert.Equal([p + "a", p + "b"], Keys(response));
        Assert.Equal(2, response.Count);
        Assert.True(response.Header.Revision >= revision);
    }

    [Fact]
    public async Task ModAndCreateRevisionFilters_DropKvs_ButCountStaysTheRangeTotal()
    {
        var p = NewPrefix("range");
        var rc = await PutAllAsync((p + "c", "1"));
        var ra = await PutAllAsync((p + "a", "1"));
        var rb = await PutAllAsync((p + "b", "1"));
        var ra2 = await PutAllAsync((p + "a", "2"));
        // a: create ra, mod ra2; b: create rb, mod rb; c: create rc, mod rc.

        async Task<Rpc.RangeResponse> Filtered(Action<Rpc.RangeRequest> set)
        {
            var request = Prefix(p);
            set(request);
            return await Kv.RangeAsync(request);
        }

        var minMod = await Filtered(r => r.MinModRevision = rb);
        var maxMod = await Filtered(r => r.MaxModRevision = rb);
        var minCreate = await Filtered(r => r.MinCreateRevision = ra);
        var maxCreate = await Filtered(r => r.MaxCreateRevision = ra);
        var window = await Filtered(r => { r.MinCreateRevision = ra; r.MaxCreateRevision = ra; r.MinModRevision = ra2; });
        var limited = await Filtered(r => { r.MinModRevision = rb; r.Limit = 1; });

        Assert.Equal([p + "a", p + "b"], Keys(minMod));
        Assert.Equal([p + "b", p + "c"], Keys(maxMod));
        Assert.Equal([p + "a", p + "b"], Keys(minCreate));
        Assert.Equal([p + "a", p + "c"], Keys(maxCreate));
        Assert.Equal([p + "a"], Keys(window));
        Assert.Equal([p + "a"], Keys(limited));
        Assert.True(limited.More);
        Assert.All(new[] { minMod, maxMod, minCreate, maxCreate, window, limited }, r => Assert.Equal(3, r.Count));
    }
}

public sealed class RangeTests(KubeBrainFixture fixture) : RangeContract(fixture), IClassFixture<KubeBrainFixture>
{
    /// <summary>etcd 3.5 and later refuse an unknown sort order or target (etcd 3.4 ignored them), so not run on the oracle.</summary>
    [Theory]
    [InlineData(7, 0)]
    [InlineData(0, 9)]
    public async Task UnknownSortOrderOrTarget_IsInvalidSortOption(int order, int target)
    {
        var request = Prefix(NewPrefix("range"));
        request.SortOrder = (SortOrder)order;
        request.SortTarget = (SortTarget)target;

        await AssertRpcErrorAsync(StatusCode.InvalidArgument, InvalidSortOption, () => fixture.Target.Kv.RangeAsync(request).ResponseAsync);
    }
}

public sealed class RangeTestsOnEtcd(EtcdFixture fixture) : RangeContract(fixture), IClassFixture<EtcdFixture>;

public sealed class RangeTestsOnSqlite(SqliteKubeBrainFixture fixture) : RangeContract(fixture), IClassFixture<SqliteKubeBrainFixture>;

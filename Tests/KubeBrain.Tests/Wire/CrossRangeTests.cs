using System.Globalization;
using Grpc.Core;
using Xunit;
using static KubeBrain.Tests.Wire.WireHelpers;
using Op = KubeBrain.Protos.Etcdserverpb.ResponseOp.ResponseOneofCase;
using Result = KubeBrain.Protos.Etcdserverpb.Compare.Types.CompareResult;
using Rpc = KubeBrain.Protos.Etcdserverpb;
using SortOrder = KubeBrain.Protos.Etcdserverpb.RangeRequest.Types.SortOrder;
using SortTarget = KubeBrain.Protos.Etcdserverpb.RangeRequest.Types.SortTarget;
using Target = KubeBrain.Protos.Etcdserverpb.Compare.Types.CompareTarget;

namespace KubeBrain.Tests.Wire;

/// <summary>
/// Reads and writes whose keys span several key ranges. KubeBrain keeps each <c>/registry/&lt;segment&gt;/</c>
/// in its own range (every other key in a default range), so <c>{root}-a/k</c> and <c>{root}-b/k</c> live in
/// different ranges while <c>{root}-m</c> (no slash after the segment) lives in the default range; the interval
/// [<c>{root}-</c>, <c>{root}.</c>) covers them all. Run against KubeBrain and, as the oracle, against etcd 3.4.
/// </summary>
public abstract class CrossRangeContract(WireFixture fixture)
{
    private Rpc.KV.KVClient Kv => fixture.Target.Kv;

    private static string NewRoot() => "/registry/xr" + Guid.NewGuid().ToString("N");

    /// <summary>The key named <paramref name="name"/>: in its own range unless it is "m" (the default range).</summary>
    private static string Key(string root, string name) => name == "m" ? root + "-m" : $"{root}-{name}/k";

    private static Rpc.RangeRequest All(string root) => new() { Key = B(root + "-"), RangeEnd = B(root + ".") };

    private Task<Rpc.TxnResponse> TxnAsync(Rpc.TxnRequest txn) => Kv.TxnAsync(txn).ResponseAsync;

    private async Task<long> PutAsync(string key, string value) => (await Kv.PutAsync(Put(key, value))).Header.Revision;

    [Fact]
    public async Task Range_OverSeveralRanges_IsInKeyOrder_WithLimitMoreAndAnExactCount()
    {
        var root = NewRoot();
        foreach (var name in new[] { "d", "m", "b", "a", "c" })
        {
            await PutAsync(Key(root, name), name);
        }
        string[] ordered = [Key(root, "a"), Key(root, "b"), Key(root, "c"), Key(root, "d"), Key(root, "m")];

        var all = await Kv.RangeAsync(All(root));
        var limited = All(root);
        limited.Limit = 2;
        var page = await Kv.RangeAsync(limited);
        var countOnly = All(root);
        countOnly.CountOnly = true;
        var counted = await Kv.RangeAsync(countOnly);
        var keysOnly = All(root);
        keysOnly.KeysOnly = true;
        keysOnly.Limit = 4;
        var keys = await Kv.RangeAsync(keysOnly);

        Assert.Equal(ordered, Keys(all));
        Assert.Equal((5L, false), (all.Count, all.More));
        Assert.Equal(ordered[..2], Keys(page));
        Assert.Equal((5L, true), (page.Count, page.More));
        Assert.Empty(counted.Kvs);
        Assert.Equal(5, counted.Count);
        Assert.Equal(ordered[..4], Keys(keys));
        Assert.All(keys.Kvs, kv => Assert.True(kv.Value.IsEmpty));
        Assert.Equal((5L, true), (keys.Count, keys.More));
    }

    [Theory]
    [InlineData(SortTarget.Create, SortOrder.Ascend, "dmbac")]
    [InlineData(SortTarget.Create, SortOrder.Descend, "cabmd")]
    [InlineData(SortTarget.Mod, SortOrder.Ascend, "mdacb")]
    [InlineData(SortTarget.Mod, SortOrder.Descend, "bcadm")]
    [InlineData(SortTarget.Version, SortOrder.Ascend, "mbcad")]
    [InlineData(SortTarget.Version, SortOrder.Descend, "dacbm")]
    [InlineData(SortTarget.Value, SortOrder.Ascend, "cdmab")]
    [InlineData(SortTarget.Value, SortOrder.Descend, "bamdc")]
    [InlineData(SortTarget.Key, SortOrder.Descend, "mdcba")]
    [InlineData(SortTarget.Key, SortOrder.Ascend, "abcdm")]
    public async Task Sort_OverSeveralRanges(SortTarget target, SortOrder order, string expected)
    {
        var root = await SortableAsync();
        var request = All(root);
        request.SortTarget = target;
        request.SortOrder = order;

        var response = await Kv.RangeAsync(request);

        Assert.Equal([.. expected.Select(c => Key(root, c.ToString()))], Keys(response));
    }

    [Fact]
    public async Task SortTargetWithoutOrder_WithALimit_SortsOnlyTheFirstLimitPlusOneKeys_OverSeveralRanges()
    {
        // etcd fetches limit+1 keys in key order (a, b, c) and sorts only those (mods ascend a, c, b); m and d,
        // whose mod revisions are the lowest of all, come later in key order and are never considered.
        var root = await SortableAsync();
        var request = All(root);
        request.SortTarget = SortTarget.Mod;
        request.Limit = 2;

        var response = await Kv.RangeAsync(request);

        Assert.Equal([Key(root, "a"), Key(root, "c")], Keys(response));
        Assert.True(response.More);
        Assert.Equal(5, response.Count);
    }

    /// <summary>
    /// Created in the order d, m, b, a, c, then written again d d d d a a a c c b, so that (no ties) versions are
    /// m1 b2 c3 a4 d5, mod revisions ascend m d a c b, and values ascend c "1", d "2", m "3", a "4", b "5".
    /// </summary>
    private async Task<string> SortableAsync()
    {
        var root = NewRoot();
        (string Name, string Value)[] writes =
        [
            ("d", "x"), ("m", "3"), ("b", "x"), ("a", "x"), ("c", "x"),
            ("d", "x"), ("d", "x"), ("d", "x"), ("d", "2"), ("a", "x"), ("a", "x"), ("a", "4"), ("c", "x"), ("c", "1"), ("b", "5"),
        ];
        foreach (var (name, value) in writes)
        {
            await PutAsync(Key(root, name), value);
        }
        return root;
    }

    [Fact]
    public async Task HistoricalRead_OverSeveralRanges_SeesExactlyThatRevision()
    {
        var root = NewRoot();
        var r1 = await PutAsync(Key(root, "a"), "1");
        await PutAsync(Key(root, "b"), "1");
        var r3 = await PutAsync(Key(root, "m"), "1");
        await PutAsync(Key(root, "a"), "2");
        await Kv.DeleteRangeAsync(Delete(Key(root, "b")));
        await PutAsync(Key(root, "c"), "1");

        var atR1 = All(root);
        atR1.Revision = r1;
        var atR3 = All(root);
        atR3.Revision = r3;
        var first = await Kv.RangeAsync(atR1);
        var third = await Kv.RangeAsync(atR3);
        var now = await Kv.RangeAsync(All(root));

        Assert.Equal([Key(root, "a")], Keys(first));
        Assert.Equal([Key(root, "a"), Key(root, "b"), Key(root, "m")], Keys(third));
        Assert.Equal(["1", "1", "1"], third.Kvs.Select(kv => S(kv.Value)));
        Assert.Equal([Key(root, "a"), Key(root, "c"), Key(root, "m")], Keys(now));
        Assert.Equal(now.Header.Revision, third.Header.Revision);
    }

    [Fact]
    public async Task DeleteRange_OverSeveralRanges_IsOneRevision_WithPrevKvsInKeyOrder()
    {
        var root = NewRoot();
        foreach (var name in new[] { "c", "m", "a", "b" })
        {
            await PutAsync(Key(root, name), name);
        }
        var before = await PutAsync(root + "/outside", "o");

        var response = await Kv.DeleteRangeAsync(new Rpc.DeleteRangeRequest { Key = B(root + "-"), RangeEnd = B(root + "."), PrevKv = true });

        Assert.Equal(4, response.Deleted);
        Assert.Equal(before + 1, response.Header.Revision);
        Assert.Equal([Key(root, "a"), Key(root, "b"), Key(root, "c"), Key(root, "m")], response.PrevKvs.Select(kv => S(kv.Key)));
        Assert.Empty((await Kv.RangeAsync(All(root))).Kvs);
        Assert.Single((await Kv.RangeAsync(Get(root + "/outside"))).Kvs);
        var atBefore = All(root);
        atBefore.Revision = before;
        Assert.Equal(4, (await Kv.RangeAsync(atBefore)).Count);
    }

    [Fact]
    public async Task Txn_OverSeveralRanges_ComparesEveryRange_WritesOneRevision_AndReadsItsOwnWrites()
    {
        var root = NewRoot();
        var ra = await PutAsync(Key(root, "a"), "1");
        var rb = await PutAsync(Key(root, "b"), "1");
        var before = await PutAsync(Key(root, "m"), "1");

        var failed = await TxnAsync(Txn(
            [Cmp(Key(root, "a"), Target.Mod, Result.Equal, ra), Cmp(Key(root, "b"), Target.Mod, Result.Equal, ra)],
            [OpPut(Key(root, "c"), "never")],
            [new Rpc.RequestOp { RequestRange = All(root) }]));
        var succeeded = await TxnAsync(Txn(
            [Cmp(Key(root, "a"), Target.Mod, Result.Equal, ra), Cmp(Key(root, "b"), Target.Mod, Result.Equal, rb), CmpValue(Key(root, "m"), Result.Equal, "1")],
            [OpPut(Key(root, "a"), "2"), OpPut(Key(root, "c"), "new"), OpDelete(Key(root, "m")), new Rpc.RequestOp { RequestRange = All(root) }]));

        Assert.False(failed.Succeeded);
        Assert.Equal(before, failed.Header.Revision);
        Assert.Equal(3, failed.Responses[0].ResponseRange.Count);
        Assert.True(succeeded.Succeeded);
        Assert.Equal(before + 1, succeeded.Header.Revision);
        Assert.Equal([Op.ResponsePut, Op.ResponsePut, Op.ResponseDeleteRange, Op.ResponseRange], succeeded.Responses.Select(r => r.ResponseCase));
        var seen = succeeded.Responses[3].ResponseRange;
        Assert.Equal([Key(root, "a"), Key(root, "b"), Key(root, "c")], Keys(seen));
        Assert.Equal(["2", "1", "new"], seen.Kvs.Select(kv => S(kv.Value)));
        var now = await Kv.RangeAsync(All(root));
        Assert.Equal(Keys(seen), Keys(now));
        Assert.Equal([before + 1, rb, before + 1], now.Kvs.Select(kv => kv.ModRevision));
    }

    [Fact]
    public async Task CompareOverAnIntervalSpanningRanges_HoldsOnlyIfEveryKeyHolds()
    {
        var root = NewRoot();
        await PutAsync(Key(root, "a"), "1");
        await PutAsync(Key(root, "m"), "1");
        await PutAsync(Key(root, "c"), "1");
        await PutAsync(Key(root, "c"), "2");

        Rpc.Compare Over(Rpc.Compare compare)
        {
            compare.RangeEnd = B(root + ".");
            return compare;
        }

        var allExist = await TxnAsync(Txn([Over(Cmp(root + "-", Target.Version, Result.Greater, 0))], []));
        var allVersionOne = await TxnAsync(Txn([Over(Cmp(root + "-", Target.Version, Result.Equal, 1))], []));
        var valuesBelow3 = await TxnAsync(Txn([Over(CmpValue(root + "-", Result.Less, "3"))], []));

        Assert.True(allExist.Succeeded);
        Assert.False(allVersionOne.Succeeded);
        Assert.True(valuesBelow3.Succeeded);
    }

    [Fact]
    public async Task DuplicateKeyAcrossRanges_IsDuplicateKey()
    {
        var root = NewRoot();

        await AssertRpcErrorAsync(StatusCode.InvalidArgument, DuplicateKey,
            () => TxnAsync(Txn([], [OpPut(Key(root, "a"), "1"), OpPut(Key(root, "m"), "1"), OpDelete(root + "-", root + ".")])));

        Assert.Empty((await Kv.RangeAsync(All(root))).Kvs);
    }

    [Fact]
    public async Task ConcurrentTransfersAcrossRanges_AreAtomic_AndEachTakesOneRevision()
    {
        var root = NewRoot();
        string[] accounts = [Key(root, "a"), Key(root, "b"), Key(root, "c"), Key(root, "d"), Key(root, "m")];
        foreach (var account in accounts)
        {
            await PutAsync(account, "100");
        }
        var start = await CurrentRevisionAsync(Kv);
        const int workers = 4;
        const int transfersEach = 8;
        using var done = new CancellationTokenSource();

        async Task Reader()
        {
            while (!done.IsCancellationRequested)
            {
                var snapshot = await Kv.RangeAsync(All(root));
                Assert.Equal(accounts, Keys(snapshot));
                Assert.Equal(500, snapshot.Kvs.Sum(kv => int.Parse(S(kv.Value), CultureInfo.InvariantCulture)));
            }
        }

        async Task Worker(int seed)
        {
            var random = new Random(seed);
            for (var (succeeded, attempts) = (0, 0); succeeded < transfersEach; attempts++)
            {
                Assert.True(attempts < 2000, "no progress");
                var from = random.Next(accounts.Length);
                var to = (from + 1 + random.Next(accounts.Length - 1)) % accounts.Length;
                var snapshot = await Kv.RangeAsync(All(root));
                var (source, target) = (snapshot.Kvs[from], snapshot.Kvs[to]);
                var amount = random.Next(1, 10);
                var txn = await TxnAsync(Txn(
                    [Cmp(accounts[from], Target.Mod, Result.Equal, source.ModRevision), Cmp(accounts[to], Target.Mod, Result.Equal, target.ModRevision)],
                    [
                        OpPut(accounts[from], (int.Parse(S(source.Value), CultureInfo.InvariantCulture) - amount).ToString(CultureInfo.InvariantCulture)),
                        OpPut(accounts[to], (int.Parse(S(target.Value), CultureInfo.InvariantCulture) + amount).ToString(CultureInfo.InvariantCulture)),
                    ]));
                if (txn.Succeeded)
                {
                    succeeded++;
                }
            }
        }

        var reader = Task.Run(Reader);
        await Task.WhenAll(Enumerable.Range(0, workers).Select(i => Task.Run(() => Worker(i))));
        await done.CancelAsync();
        await reader;

        var final = await Kv.RangeAsync(All(root));
        Assert.Equal(500, final.Kvs.Sum(kv => int.Parse(S(kv.Value), CultureInfo.InvariantCulture)));
        Assert.Equal(start + workers * transfersEach, final.Header.Revision);
    }
}

public sealed class CrossRangeTests(KubeBrainFixture fixture) : CrossRangeContract(fixture), IClassFixture<KubeBrainFixture>;

public sealed class CrossRangeTestsOnEtcd(EtcdFixture fixture) : CrossRangeContract(fixture), IClassFixture<EtcdFixture>;

public sealed class CrossRangeTestsOnSqlite(SqliteKubeBrainFixture fixture) : CrossRangeContract(fixture), IClassFixture<SqliteKubeBrainFixture>;

using Grpc.Core;
using Xunit;
using static KubeBrain.Tests.Wire.WireHelpers;
using Op = KubeBrain.Protos.Etcdserverpb.ResponseOp.ResponseOneofCase;
using Result = KubeBrain.Protos.Etcdserverpb.Compare.Types.CompareResult;
using Rpc = KubeBrain.Protos.Etcdserverpb;
using Target = KubeBrain.Protos.Etcdserverpb.Compare.Types.CompareTarget;

namespace KubeBrain.Tests.Wire;

/// <summary>KV.Txn as etcd answers it; run against KubeBrain and, as the oracle, against etcd 3.4.</summary>
public abstract class TxnContract(WireFixture fixture)
{
    private Rpc.KV.KVClient Kv => fixture.Target.Kv;

    private Task<Rpc.TxnResponse> TxnAsync(Rpc.TxnRequest txn) => Kv.TxnAsync(txn).ResponseAsync;

    /// <summary>A key written twice: version 2, value "v", no lease; answers its create and mod revisions.</summary>
    private async Task<(string Key, long Create, long Mod)> KeyAtVersionTwoAsync()
    {
        var k = NewPrefix("txn") + "k";
        var create = (await Kv.PutAsync(Put(k, "first"))).Header.Revision;
        var mod = (await Kv.PutAsync(Put(k, "v"))).Header.Revision;
        return (k, create, mod);
    }

    [Theory]
    [InlineData(Target.Version, Result.Equal, 0, true)]
    [InlineData(Target.Version, Result.Equal, -1, false)]
    [InlineData(Target.Version, Result.Greater, -1, true)]
    [InlineData(Target.Version, Result.Greater, 0, false)]
    [InlineData(Target.Version, Result.Less, 1, true)]
    [InlineData(Target.Version, Result.Less, 0, false)]
    [InlineData(Target.Version, Result.NotEqual, 1, true)]
    [InlineData(Target.Version, Result.NotEqual, 0, false)]
    [InlineData(Target.Create, Result.Equal, 0, true)]
    [InlineData(Target.Create, Result.Equal, 1, false)]
    [InlineData(Target.Create, Result.Greater, -1, true)]
    [InlineData(Target.Create, Result.Greater, 0, false)]
    [InlineData(Target.Create, Result.Less, 1, true)]
    [InlineData(Target.Create, Result.Less, 0, false)]
    [InlineData(Target.Create, Result.NotEqual, -1, true)]
    [InlineData(Target.Create, Result.NotEqual, 0, false)]
    [InlineData(Target.Mod, Result.Equal, 0, true)]
    [InlineData(Target.Mod, Result.Equal, -1, false)]
    [InlineData(Target.Mod, Result.Greater, -1, true)]
    [InlineData(Target.Mod, Result.Greater, 0, false)]
    [InlineData(Target.Mod, Result.Less, 1, true)]
    [InlineData(Target.Mod, Result.Less, 0, false)]
    [InlineData(Target.Mod, Result.NotEqual, 1, true)]
    [InlineData(Target.Mod, Result.NotEqual, 0, false)]
    [InlineData(Target.Lease, Result.Equal, 0, true)]
    [InlineData(Target.Lease, Result.Equal, 1, false)]
    [InlineData(Target.Lease, Result.Greater, -1, true)]
    [InlineData(Target.Lease, Result.Greater, 0, false)]
    [InlineData(Target.Lease, Result.Less, 1, true)]
    [InlineData(Target.Lease, Result.Less, 0, false)]
    [InlineData(Target.Lease, Result.NotEqual, 1, true)]
    [InlineData(Target.Lease, Result.NotEqual, 0, false)]
    public async Task Compare_OnAnExistingKey(Target target, Result result, long delta, bool expected)
    {
        var (k, create, mod) = await KeyAtVersionTwoAsync();
        var actual = target switch
        {
            Target.Version => 2,
            Target.Create => create,
            Target.Mod => mod,
            _ => 0,
        };

        var response = await TxnAsync(Txn([Cmp(k, target, result, actual + delta)], [OpGet(k)], [OpGet(k), OpGet(k)]));

        Assert.Equal(expected, response.Succeeded);
        Assert.Equal(expected ? 1 : 2, response.Responses.Count);
        Assert.Equal(mod, response.Header.Revision);
    }

    [Theory]
    [InlineData(Result.Equal, "v", true)]
    [InlineData(Result.Equal, "u", false)]
    [InlineData(Result.Equal, "", false)]
    [InlineData(Result.Greater, "u", true)]
    [InlineData(Result.Greater, "", true)]
    [InlineData(Result.Greater, "v", false)]
    [InlineData(Result.Greater, "w", false)]
    [InlineData(Result.Less, "w", true)]
    [InlineData(Result.Less, "vv", true)]
    [InlineData(Result.Less, "v", false)]
    [InlineData(Result.NotEqual, "x", true)]
    [InlineData(Result.NotEqual, "v", false)]
    public async Task CompareValue_OnAnExistingKey_IsBytewise(Result result, string operand, bool expected)
    {
        var (k, _, _) = await KeyAtVersionTwoAsync();

        var response = await TxnAsync(Txn([CmpValue(k, result, operand)], [OpGet(k)]));

        Assert.Equal(expected, response.Succeeded);
    }

    [Theory]
    [InlineData(Target.Mod, Result.Equal, 0, true)]
    [InlineData(Target.Version, Result.Equal, 0, true)]
    [InlineData(Target.Create, Result.Equal, 0, true)]
    [InlineData(Target.Lease, Result.Equal, 0, true)]
    [InlineData(Target.Mod, Result.Greater, 0, false)]
    [InlineData(Target.Version, Result.Less, 1, true)]
    [InlineData(Target.Create, Result.NotEqual, 5, true)]
    public async Task Compare_OnAMissingKey_ComparesAZeroKeyValue(Target target, Result result, long operand, bool expected)
    {
        var k = NewPrefix("txn") + "missing";

        var response = await TxnAsync(Txn([Cmp(k, target, result, operand)], [OpGet(k)]));

        Assert.Equal(expected, response.Succeeded);
    }

    [Theory]
    [InlineData(Result.Equal, "")]
    [InlineData(Result.NotEqual, "x")]
    [InlineData(Result.Less, "z")]
    [InlineData(Result.Greater, "")]
    public async Task CompareValue_OnAMissingKey_AlwaysFails(Result result, string operand)
    {
        var k = NewPrefix("txn") + "missing";

        var response = await TxnAsync(Txn([CmpValue(k, result, operand)], [OpGet(k)]));

        Assert.False(response.Succeeded);
    }

    [Fact]
    public async Task Compare_OverARange_MustHoldForEveryKeyInIt()
    {
        var p = NewPrefix("txn");
        await Kv.PutAsync(Put(p + "a", "1"));
        await Kv.PutAsync(Put(p + "b", "1"));
        await Kv.PutAsync(Put(p + "b", "2"));
        await Kv.PutAsync(Put(p + "c", "1"));

        Rpc.Compare Over(Rpc.Compare compare, string end)
        {
            compare.RangeEnd = B(end);
            return compare;
        }

        async Task<bool> Holds(Rpc.Compare compare) => (await TxnAsync(Txn([compare], []))).Succeeded;

        Assert.True(await Holds(Over(Cmp(p + "a", Target.Version, Result.Greater, 0), p + "c")));
        Assert.False(await Holds(Over(Cmp(p + "a", Target.Version, Result.Equal, 1), p + "c")));
        Assert.True(await Holds(Over(Cmp(p + "a", Target.Version, Result.Equal, 1), p + "b")));
        Assert.True(await Holds(Over(Cmp(p + "a", Target.Version, Result.Less, 3), S(PrefixEnd(p)))));
        Assert.False(await Holds(Over(CmpValue(p + "a", Result.Equal, "1"), S(PrefixEnd(p)))));
        Assert.True(await Holds(Over(CmpValue(p + "a", Result.Less, "3"), S(PrefixEnd(p)))));
        Assert.True(await Holds(Over(Cmp(p + "a", Target.Lease, Result.Equal, 0), S(PrefixEnd(p)))));
        // An interval holding no key compares a zero key-value, and value compares fail.
        Assert.True(await Holds(Over(Cmp(p + "x", Target.Mod, Result.Equal, 0), p + "z")));
        Assert.False(await Holds(Over(CmpValue(p + "x", Result.NotEqual, "1"), p + "z")));
        // range_end "\0": every key from key on (0xFE sorts after all other keys of this server).
        var tail = "\u00fe" + Guid.NewGuid().ToString("N");
        await Kv.PutAsync(Put(tail, "1"));
        Assert.True(await Holds(new Rpc.Compare { Key = B(tail), RangeEnd = FromKey, Target = Target.Version, Result = Result.Equal, Version = 1 }));
        Assert.False(await Holds(new Rpc.Compare { Key = B(tail), RangeEnd = FromKey, Target = Target.Version, Result = Result.Equal, Version = 2 }));
    }

    [Fact]
    public async Task AllComparesMustHold()
    {
        var (k, create, mod) = await KeyAtVersionTwoAsync();
        Rpc.Compare[] holding = [Cmp(k, Target.Version, Result.Equal, 2), Cmp(k, Target.Create, Result.Equal, create), CmpValue(k, Result.Equal, "v")];

        var all = await TxnAsync(Txn(holding, [OpGet(k)]));
        var oneFails = await TxnAsync(Txn([.. holding, Cmp(k, Target.Mod, Result.Less, mod)], [OpGet(k)]));
        var none = await TxnAsync(Txn([], [OpGet(k)], [OpGet(k), OpGet(k)]));

        Assert.True(all.Succeeded);
        Assert.False(oneFails.Succeeded);
        Assert.True(none.Succeeded);
        Assert.Single(none.Responses);
    }

    [Fact]
    public async Task SuccessBranch_RunsEveryOpKind_AndEachResponseMirrorsItsOp()
    {
        var p = NewPrefix("txn");
        await Kv.PutAsync(Put(p + "doomed", "d"));
        var before = (await Kv.PutAsync(Put(p + "cond", "1"))).Header.Revision;
        var nested = Txn([Cmp(p + "cond", Target.Version, Result.Equal, 1)], [OpPut(p + "nested", "n"), OpGet(p + "cond")], [OpGet(p + "cond")]);

        var response = await TxnAsync(Txn(
            [CmpValue(p + "cond", Result.Equal, "1")],
            [OpPut(p + "x", "x"), OpGet(p + "x"), OpDelete(p + "doomed"), OpTxn(nested)],
            [OpGet(p + "cond")]));

        Assert.True(response.Succeeded);
        Assert.Equal(before + 1, response.Header.Revision);
        Assert.Equal([Op.ResponsePut, Op.ResponseRange, Op.ResponseDeleteRange, Op.ResponseTxn], response.Responses.Select(r => r.ResponseCase));
        AssertKv(Assert.Single(response.Responses[1].ResponseRange.Kvs), p + "x", "x", before + 1, before + 1, 1);
        Assert.Equal(1, response.Responses[2].ResponseDeleteRange.Deleted);
        var inner = response.Responses[3].ResponseTxn;
        Assert.True(inner.Succeeded);
        Assert.Equal([Op.ResponsePut, Op.ResponseRange], inner.Responses.Select(r => r.ResponseCase));
        Assert.Equal([p + "cond", p + "nested", p + "x"], Keys(await Kv.RangeAsync(Prefix(p))));
        Assert.All((await Kv.RangeAsync(Prefix(p))).Kvs.Where(kv => S(kv.Key) != p + "cond"), kv => Assert.Equal(before + 1, kv.ModRevision));
    }

    [Fact]
    public async Task FailureBranch_RunsEveryOpKind_AndEachResponseMirrorsItsOp()
    {
        var p = NewPrefix("txn");
        await Kv.PutAsync(Put(p + "doomed", "d"));
        var before = (await Kv.PutAsync(Put(p + "cond", "1"))).Header.Revision;
        var nested = Txn([Cmp(p + "cond", Target.Version, Result.Equal, 9)], [OpGet(p + "cond")], [OpDelete(p + "never"), OpPut(p + "nested", "n")]);

        var response = await TxnAsync(Txn(
            [CmpValue(p + "cond", Result.Equal, "2")],
            [OpPut(p + "success", "s")],
            [OpGet(p + "cond"), OpPut(p + "y", "y"), OpDelete(p + "doomed"), OpTxn(nested)]));

        Assert.False(response.Succeeded);
        Assert.Equal(before + 1, response.Header.Revision);
        Assert.Equal([Op.ResponseRange, Op.ResponsePut, Op.ResponseDeleteRange, Op.ResponseTxn], response.Responses.Select(r => r.ResponseCase));
        AssertKv(Assert.Single(response.Responses[0].ResponseRange.Kvs), p + "cond", "1", before, before, 1);
        var inner = response.Responses[3].ResponseTxn;
        Assert.False(inner.Succeeded);
        Assert.Equal([Op.ResponseDeleteRange, Op.ResponsePut], inner.Responses.Select(r => r.ResponseCase));
        Assert.Equal(0, inner.Responses[0].ResponseDeleteRange.Deleted);
        Assert.Equal([p + "cond", p + "nested", p + "y"], Keys(await Kv.RangeAsync(Prefix(p))));
    }

    [Fact]
    public async Task OpsOfAWriteTxn_SeeTheEarlierOpsOfTheSameTxn()
    {
        var p = NewPrefix("txn");
        var created = (await Kv.PutAsync(Put(p + "k", "v1"))).Header.Revision;
        await Kv.PutAsync(Put(p + "gone", "g"));

        var response = await TxnAsync(Txn([], [
            OpGet(p + "k"),
            OpPut(p + "k", "v2"),
            OpGet(p + "k"),
            new Rpc.RequestOp { RequestDeleteRange = new Rpc.DeleteRangeRequest { Key = B(p + "gone"), PrevKv = true } },
            OpGet(p + "gone"),
            new Rpc.RequestOp { RequestRange = Prefix(p) },
        ]));

        var revision = response.Header.Revision;
        Assert.Equal(created + 2, revision);
        AssertKv(Assert.Single(response.Responses[0].ResponseRange.Kvs), p + "k", "v1", created, created, 1);
        AssertKv(Assert.Single(response.Responses[2].ResponseRange.Kvs), p + "k", "v2", created, revision, 2);
        AssertKv(Assert.Single(response.Responses[3].ResponseDeleteRange.PrevKvs), p + "gone", "g", created + 1, created + 1, 1);
        Assert.Empty(response.Responses[4].ResponseRange.Kvs);
        Assert.Equal([p + "k"], Keys(response.Responses[5].ResponseRange));
        Assert.Equal(1, response.Responses[5].ResponseRange.Count);
        Assert.Equal([p + "k"], Keys(await Kv.RangeAsync(Prefix(p))));
    }

    [Fact]
    public async Task NestedCompares_AreEvaluatedAgainstTheStoreBeforeTheTxn()
    {
        var p = NewPrefix("txn");
        await Kv.PutAsync(Put(p + "flag", "old"));

        // etcd chooses every branch (the whole path through nested txns) before running any op.
        var response = await TxnAsync(Txn([], [
            OpPut(p + "flag", "new"),
            OpTxn(Txn([CmpValue(p + "flag", Result.Equal, "old")], [OpPut(p + "saw", "old")], [OpPut(p + "saw", "new")])),
        ]));

        Assert.True(response.Responses[1].ResponseTxn.Succeeded);
        Assert.Equal("old", S(Assert.Single((await Kv.RangeAsync(Get(p + "saw"))).Kvs).Value));
    }

    [Fact]
    public async Task WriteTxn_TakesExactlyOneRevision_SharedByAllItsWrites()
    {
        var p = NewPrefix("txn");
        var before = (await Kv.PutAsync(Put(p + "d", "d"))).Header.Revision;

        var response = await TxnAsync(Txn([], [OpPut(p + "a", "1"), OpPut(p + "b", "2"), OpPut(p + "c", "3"), OpDelete(p + "d")]));
        var after = await Kv.RangeAsync(Prefix(p));

        Assert.Equal(before + 1, response.Header.Revision);
        Assert.Equal(before + 1, after.Header.Revision);
        Assert.Equal([p + "a", p + "b", p + "c"], Keys(after));
        Assert.All(after.Kvs, kv => Assert.Equal((before + 1, before + 1), (kv.CreateRevision, kv.ModRevision)));
        var deletedAt = await Kv.RangeAsync(new Rpc.RangeRequest { Key = B(p + "d"), Revision = before + 1 });
        Assert.Empty(deletedAt.Kvs);
    }

    [Fact]
    public async Task ReadOnlyOrFailedTxn_TakesNoRevision_AndReportsTheCurrentRevision()
    {
        var p = NewPrefix("txn");
        var current = (await Kv.PutAsync(Put(p + "k", "v"))).Header.Revision;

        var readOnly = await TxnAsync(Txn([CmpValue(p + "k", Result.Equal, "v")], [OpGet(p + "k"), new Rpc.RequestOp { RequestRange = Prefix(p) }]));
        var failedNoOps = await TxnAsync(Txn([CmpValue(p + "k", Result.Equal, "other")], [OpPut(p + "k", "w")]));
        var failedRead = await TxnAsync(Txn([CmpValue(p + "k", Result.Equal, "other")], [OpPut(p + "k", "w")], [OpGet(p + "k")]));
        var empty = await TxnAsync(new Rpc.TxnRequest());

        Assert.Equal((true, current), (readOnly.Succeeded, readOnly.Header.Revision));
        Assert.Equal((false, current), (failedNoOps.Succeeded, failedNoOps.Header.Revision));
        Assert.Empty(failedNoOps.Responses);
        Assert.Equal((false, current), (failedRead.Succeeded, failedRead.Header.Revision));
        Assert.Equal((true, current), (empty.Succeeded, empty.Header.Revision));
        Assert.Equal(current + 1, (await Kv.PutAsync(Put(p + "next", "n"))).Header.Revision);
    }

    [Fact]
    public async Task MoreThan128Ops_IsTooManyOps_And128AreAccepted()
    {
        var p = NewPrefix("txn");
        Rpc.RequestOp[] Puts(int n) => [.. Enumerable.Range(0, n).Select(i => OpPut($"{p}{i:D3}", "v"))];
        Rpc.Compare[] Compares(int n) => [.. Enumerable.Range(0, n).Select(i => Cmp($"{p}{i:D3}", Target.Mod, Result.Equal, 0))];

        await AssertRpcErrorAsync(StatusCode.InvalidArgument, TooManyOps, () => TxnAsync(Txn([], Puts(129))));
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, TooManyOps, () => TxnAsync(Txn([], [], Puts(129))));
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, TooManyOps, () => TxnAsync(Txn(Compares(129), [])));
        Assert.Empty((await Kv.RangeAsync(Prefix(p))).Kvs);

        var accepted = await TxnAsync(Txn(Compares(128), Puts(128), Puts(128)));

        Assert.True(accepted.Succeeded);
        Assert.Equal(128, accepted.Responses.Count);
        Assert.Equal(128, (await Kv.RangeAsync(Prefix(p))).Count);
    }

    [Fact]
    public async Task DuplicatePutKeys_AreDuplicateKey()
    {
        var p = NewPrefix("txn");

        await AssertRpcErrorAsync(StatusCode.InvalidArgument, DuplicateKey,
            () => TxnAsync(Txn([], [OpPut(p + "k", "1"), OpPut(p + "k", "2")])));
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, DuplicateKey,
            () => TxnAsync(Txn([], [OpGet(p + "k")], [OpPut(p + "k", "1"), OpPut(p + "other", "x"), OpPut(p + "k", "2")])));
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, DuplicateKey,
            () => TxnAsync(Txn([], [OpPut(p + "k", "1"), OpTxn(Txn([], [OpPut(p + "k", "2")]))])));
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, DuplicateKey,
            () => TxnAsync(Txn([], [OpPut(p + "k", "1"), OpTxn(Txn([], [], [OpPut(p + "k", "2")]))])));

        Assert.Empty((await Kv.RangeAsync(Prefix(p))).Kvs);
    }

    [Fact]
    public async Task PutInsideADeletedRangeOfTheSameTxn_IsDuplicateKey()
    {
        var p = NewPrefix("txn");

        await AssertRpcErrorAsync(StatusCode.InvalidArgument, DuplicateKey,
            () => TxnAsync(Txn([], [OpDelete(p + "a", p + "z"), OpPut(p + "k", "1")])));
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, DuplicateKey,
            () => TxnAsync(Txn([], [OpPut(p + "k", "1"), OpDelete(p + "k")])));
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, DuplicateKey,
            () => TxnAsync(Txn([], [OpDelete(p + "a", p + "z"), OpTxn(Txn([], [OpPut(p + "k", "1")]))])));
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, DuplicateKey,
            () => TxnAsync(Txn([], [OpPut(p + "k", "1"), OpTxn(Txn([], [OpDelete(p + "a", p + "z")]))])));

        Assert.Empty((await Kv.RangeAsync(Prefix(p))).Kvs);
    }

    [Fact]
    public async Task SameKeyInExclusiveBranches_OrDeletedTwice_IsAllowed()
    {
        var p = NewPrefix("txn");
        var cond = p + "_cond"; // sorts before p + "a"
        await Kv.PutAsync(Put(cond, "yes"));
        await Kv.PutAsync(Put(p + "d", "d"));

        var bothBranches = await TxnAsync(Txn([CmpValue(cond, Result.Equal, "yes")], [OpPut(p + "k", "then")], [OpPut(p + "k", "else")]));
        var nestedBranches = await TxnAsync(Txn([], [
            OpTxn(Txn([CmpValue(cond, Result.Equal, "no")], [OpPut(p + "n", "then")], [OpPut(p + "n", "else")])),
        ]));
        var afterBranches = await Kv.RangeAsync(Prefix(p));
        var overlappingDeletes = await TxnAsync(Txn([], [OpDelete(p + "a", p + "z"), OpDelete(p + "d"), OpDelete(p + "c", p + "e")]));

        Assert.True(bothBranches.Succeeded);
        Assert.False(nestedBranches.Responses[0].ResponseTxn.Succeeded);
        Assert.Equal(["yes", "d", "then", "else"], afterBranches.Kvs.Select(kv => S(kv.Value)));
        Assert.Equal([3L, 0L, 0L], overlappingDeletes.Responses.Select(r => r.ResponseDeleteRange.Deleted));
        Assert.Equal([cond], Keys(await Kv.RangeAsync(Prefix(p))));
    }

    [Fact]
    public async Task PutOfAMissingLease_OnTheTakenBranch_IsLeaseNotFound()
    {
        var p = NewPrefix("txn");
        var before = await CurrentRevisionAsync(Kv);
        var leased = new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = B(p + "k"), Value = B("v"), Lease = 0x7777 } };

        await AssertRpcErrorAsync(StatusCode.NotFound, LeaseNotFound, () => TxnAsync(Txn([], [OpPut(p + "other", "o"), leased])));
        await AssertRpcErrorAsync(StatusCode.NotFound, LeaseNotFound, () => TxnAsync(Txn([], [OpTxn(Txn([], [leased]))])));
        var notTaken = await TxnAsync(Txn([], [OpPut(p + "taken", "t")], [leased]));

        Assert.True(notTaken.Succeeded);
        Assert.Equal(before + 1, notTaken.Header.Revision);
        Assert.Equal([p + "taken"], Keys(await Kv.RangeAsync(Prefix(p))));
    }

    [Fact]
    public async Task IgnoreValueOnAMissingKey_InATxn_IsKeyNotFound()
    {
        var p = NewPrefix("txn");
        var ignoring = new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = B(p + "missing"), IgnoreValue = true } };

        await AssertRpcErrorAsync(StatusCode.InvalidArgument, KeyNotFound, () => TxnAsync(Txn([], [OpPut(p + "other", "o"), ignoring])));

        Assert.Empty((await Kv.RangeAsync(Prefix(p))).Kvs);
    }

    [Fact]
    public async Task OpsBeforeTheFirstWrite_ReportThePreTxnRevision_InTheirHeaders()
    {
        var p = NewPrefix("txn");
        var before = (await Kv.PutAsync(Put(p + "k", "v"))).Header.Revision;

        var response = await TxnAsync(Txn([], [OpGet(p + "k"), OpDelete(p + "nothing"), OpPut(p + "new", "n"), OpGet(p + "k"), OpDelete(p + "nothing2")]));

        Assert.Equal(before + 1, response.Header.Revision);
        Assert.Equal(
            [before, before, before + 1, before + 1, before + 1],
            [
                response.Responses[0].ResponseRange.Header.Revision,
                response.Responses[1].ResponseDeleteRange.Header.Revision,
                response.Responses[2].ResponsePut.Header.Revision,
                response.Responses[3].ResponseRange.Header.Revision,
                response.Responses[4].ResponseDeleteRange.Header.Revision,
            ]);
    }

    [Fact]
    public async Task NestedTxnResponse_CarriesAnEmptyHeader()
    {
        var p = NewPrefix("txn");
        var before = (await Kv.PutAsync(Put(p + "k", "v"))).Header.Revision;

        var write = await TxnAsync(Txn([], [OpTxn(Txn([], [OpPut(p + "n", "n")]))]));
        var read = await TxnAsync(Txn([], [OpTxn(Txn([], [OpGet(p + "k")]))]));

        Assert.Equal(before + 1, write.Header.Revision);
        Assert.Equal(new Rpc.ResponseHeader(), write.Responses[0].ResponseTxn.Header);
        Assert.Equal(before + 1, write.Responses[0].ResponseTxn.Responses[0].ResponsePut.Header.Revision);
        Assert.Equal(new Rpc.ResponseHeader(), read.Responses[0].ResponseTxn.Header);
        Assert.Equal(before + 1, read.Responses[0].ResponseTxn.Responses[0].ResponseRange.Header.Revision);
    }

    [Theory]
    [InlineData(Target.Mod, Result.Greater)]
    [InlineData(Target.Version, Result.Greater)]
    [InlineData(Target.Create, Result.Greater)]
    [InlineData(Target.Lease, Result.Equal)]
    public async Task Compare_WithTheOperandOfAnotherTarget_ComparesAgainstZero(Target target, Result result)
    {
        var (k, _, _) = await KeyAtVersionTwoAsync();
        // The operand oneof holds another target's field (set to a value the key's field is far below), so etcd
        // compares the target field with 0.
        var compare = new Rpc.Compare { Key = B(k), Target = target, Result = result };
        if (target == Target.Version)
        {
            compare.ModRevision = long.MaxValue;
        }
        else
        {
            compare.Version = long.MaxValue;
        }

        var response = await TxnAsync(Txn([compare], [OpGet(k)]));

        Assert.True(response.Succeeded);
    }

    [Fact]
    public async Task EmptyRequestOp_IsKeyNotFound()
    {
        var p = NewPrefix("txn");

        await AssertRpcErrorAsync(StatusCode.InvalidArgument, KeyNotFound, () => TxnAsync(Txn([], [new Rpc.RequestOp()])));
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, KeyNotFound, () => TxnAsync(Txn([], [OpPut(p + "k", "v")], [new Rpc.RequestOp()])));

        Assert.Empty((await Kv.RangeAsync(Prefix(p))).Kvs);
    }

    [Fact]
    public async Task ConcurrentCompareAndSwap_AppliesEverySuccessExactlyOnce()
    {
        var k = NewPrefix("txn") + "counter";
        await Kv.PutAsync(Put(k, "0"));
        const int workers = 6;
        const int incrementsEach = 5;

        async Task<int> Worker()
        {
            var conflicts = 0;
            for (var done = 0; done < incrementsEach;)
            {
                var current = Assert.Single((await Kv.RangeAsync(Get(k))).Kvs);
                var next = (int.Parse(S(current.Value), System.Globalization.CultureInfo.InvariantCulture) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
                var txn = await TxnAsync(Txn([Cmp(k, Target.Mod, Result.Equal, current.ModRevision)], [OpPut(k, next)], [OpGet(k)]));
                if (txn.Succeeded)
                {
                    done++;
                }
                else
                {
                    Assert.NotEqual(current.ModRevision, txn.Responses[0].ResponseRange.Kvs[0].ModRevision);
                    Assert.True(++conflicts < 1000, "no progress");
                }
            }
            return conflicts;
        }

        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(Worker)));

        var final = Assert.Single((await Kv.RangeAsync(Get(k))).Kvs);
        Assert.Equal(((workers * incrementsEach).ToString(System.Globalization.CultureInfo.InvariantCulture), workers * incrementsEach + 1L), (S(final.Value), final.Version));
    }

    [Fact]
    public async Task EmptyKeys_AreInvalidArgument()
    {
        var p = NewPrefix("txn");

        await AssertRpcErrorAsync(StatusCode.InvalidArgument, EmptyKey, () => TxnAsync(Txn([new Rpc.Compare { Target = Target.Mod }], [])));
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, EmptyKey, () => TxnAsync(Txn([], [OpPut(p + "k", "v"), OpPut("", "v")])));
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, EmptyKey, () => TxnAsync(Txn([], [OpGet("")])));
    }
}

public sealed class TxnTests(KubeBrainFixture fixture) : TxnContract(fixture), IClassFixture<KubeBrainFixture>;

public sealed class TxnTestsOnEtcd(EtcdFixture fixture) : TxnContract(fixture), IClassFixture<EtcdFixture>;

public sealed class TxnTestsOnSqlite(SqliteKubeBrainFixture fixture) : TxnContract(fixture), IClassFixture<SqliteKubeBrainFixture>;

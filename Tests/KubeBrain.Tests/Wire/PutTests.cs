using Grpc.Core;
using Xunit;
using static KubeBrain.Tests.Wire.WireHelpers;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Wire;

/// <summary>KV.Put as etcd answers it; run against KubeBrain and, as the oracle, against etcd 3.4.</summary>
public abstract class PutContract(WireFixture fixture)
{
    private Rpc.KV.KVClient Kv => fixture.Target.Kv;

    [Fact]
    public async Task FreshStore_StartsAtRevisionOne_AndTheFirstWriteIsRevisionTwo()
    {
        await using var fresh = await fixture.StartFreshAsync();

        var empty = await fresh.Kv.RangeAsync(new Rpc.RangeRequest { Key = FromKey, RangeEnd = FromKey });
        var first = await fresh.Kv.PutAsync(Put("/first", "1"));
        var second = await fresh.Kv.PutAsync(Put("/second", "2"));

        Assert.Equal(1, empty.Header.Revision);
        Assert.Equal(0, empty.Count);
        Assert.Equal(2, first.Header.Revision);
        Assert.Equal(3, second.Header.Revision);
        AssertKv(Assert.Single((await fresh.Kv.RangeAsync(Get("/first"))).Kvs), "/first", "1", 2, 2, 1);
    }

    [Fact]
    public async Task Put_AnswersTheNewRevision_AndKeysProgressThroughCreateModVersion()
    {
        var k = NewPrefix("put") + "k";
        var before = await CurrentRevisionAsync(Kv);

        var r1 = (await Kv.PutAsync(Put(k, "v1"))).Header.Revision;
        var afterFirst = await Kv.RangeAsync(Get(k));
        var r2 = (await Kv.PutAsync(Put(k, "v2"))).Header.Revision;
        var afterSecond = await Kv.RangeAsync(Get(k));
        var r3 = (await Kv.DeleteRangeAsync(Delete(k))).Header.Revision;
        var r4 = (await Kv.PutAsync(Put(k, "v3"))).Header.Revision;
        var recreated = await Kv.RangeAsync(Get(k));

        Assert.Equal([before + 1, before + 2, before + 3, before + 4], new[] { r1, r2, r3, r4 });
        AssertKv(Assert.Single(afterFirst.Kvs), k, "v1", r1, r1, 1);
        AssertKv(Assert.Single(afterSecond.Kvs), k, "v2", r1, r2, 2);
        AssertKv(Assert.Single(recreated.Kvs), k, "v3", r4, r4, 1);
        Assert.Equal(r4, recreated.Header.Revision);
    }

    [Fact]
    public async Task EmptyValue_IsAValue()
    {
        var k = NewPrefix("put") + "k";

        var revision = (await Kv.PutAsync(Put(k, ""))).Header.Revision;

        AssertKv(Assert.Single((await Kv.RangeAsync(Get(k))).Kvs), k, "", revision, revision, 1);
    }

    [Fact]
    public async Task PrevKv_AnswersThePreviousKeyValue_OnlyWhenAsked()
    {
        var k = NewPrefix("put") + "k";
        var create = new Rpc.PutRequest { Key = B(k), Value = B("v1"), PrevKv = true };

        var created = await Kv.PutAsync(create);
        var unasked = await Kv.PutAsync(Put(k, "v2"));
        var asked = await Kv.PutAsync(new Rpc.PutRequest { Key = B(k), Value = B("v3"), PrevKv = true });

        Assert.Null(created.PrevKv);
        Assert.Null(unasked.PrevKv);
        AssertKv(asked.PrevKv, k, "v2", created.Header.Revision, unasked.Header.Revision, 2);
    }

    [Fact]
    public async Task IgnoreValue_KeepsTheValue_AndStillWritesARevision()
    {
        var k = NewPrefix("put") + "k";
        var created = (await Kv.PutAsync(Put(k, "kept"))).Header.Revision;

        var response = await Kv.PutAsync(new Rpc.PutRequest { Key = B(k), IgnoreValue = true, PrevKv = true });

        Assert.Equal(created + 1, response.Header.Revision);
        AssertKv(response.PrevKv, k, "kept", created, created, 1);
        AssertKv(Assert.Single((await Kv.RangeAsync(Get(k))).Kvs), k, "kept", created, created + 1, 2);
    }

    [Fact]
    public async Task IgnoreLease_KeepsTheLease_AndTakesTheNewValue()
    {
        var k = NewPrefix("put") + "k";
        var created = (await Kv.PutAsync(Put(k, "v1"))).Header.Revision;

        var response = await Kv.PutAsync(new Rpc.PutRequest { Key = B(k), Value = B("v2"), IgnoreLease = true });

        Assert.Equal(created + 1, response.Header.Revision);
        AssertKv(Assert.Single((await Kv.RangeAsync(Get(k))).Kvs), k, "v2", created, created + 1, 2, lease: 0);
    }

    [Fact]
    public async Task IgnoreValueOrLease_OnAMissingKey_IsKeyNotFound_AndTakesNoRevision()
    {
        var k = NewPrefix("put") + "missing";
        var before = await CurrentRevisionAsync(Kv);

        await AssertRpcErrorAsync(StatusCode.InvalidArgument, KeyNotFound,
            () => Kv.PutAsync(new Rpc.PutRequest { Key = B(k), IgnoreLease = true, Value = B("v") }).ResponseAsync);
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, KeyNotFound,
            () => Kv.PutAsync(new Rpc.PutRequest { Key = B(k), IgnoreValue = true }).ResponseAsync);

        Assert.Equal(before, await CurrentRevisionAsync(Kv));
        Assert.Empty((await Kv.RangeAsync(Get(k))).Kvs);
    }

    [Fact]
    public async Task IgnoreValueWithAValue_IsValueProvided()
    {
        var k = NewPrefix("put") + "k";
        await Kv.PutAsync(Put(k, "v1"));

        await AssertRpcErrorAsync(StatusCode.InvalidArgument, ValueProvided,
            () => Kv.PutAsync(new Rpc.PutRequest { Key = B(k), Value = B("v2"), IgnoreValue = true }).ResponseAsync);

        Assert.Equal("v1", S(Assert.Single((await Kv.RangeAsync(Get(k))).Kvs).Value));
    }

    [Fact]
    public async Task IgnoreLeaseWithALease_IsLeaseProvided()
    {
        var k = NewPrefix("put") + "k";
        await Kv.PutAsync(Put(k, "v1"));

        await AssertRpcErrorAsync(StatusCode.InvalidArgument, LeaseProvided,
            () => Kv.PutAsync(new Rpc.PutRequest { Key = B(k), Value = B("v2"), IgnoreLease = true, Lease = 42 }).ResponseAsync);
    }

    [Fact]
    public async Task LeaseThatDoesNotExist_IsLeaseNotFound_AndTakesNoRevision()
    {
        var k = NewPrefix("put") + "k";
        var before = await CurrentRevisionAsync(Kv);

        await AssertRpcErrorAsync(StatusCode.NotFound, LeaseNotFound,
            () => Kv.PutAsync(new Rpc.PutRequest { Key = B(k), Value = B("v"), Lease = 0x1234_5678 }).ResponseAsync);

        Assert.Equal(before, await CurrentRevisionAsync(Kv));
        Assert.Empty((await Kv.RangeAsync(Get(k))).Kvs);
    }

    [Fact]
    public async Task ConcurrentPuts_TakeDistinctDenseRevisions_EachEqualToTheModRevisionItWrote()
    {
        var p = NewPrefix("put");
        var before = await CurrentRevisionAsync(Kv);
        const int distinct = 48;
        const int sameKey = 16;

        var puts = Enumerable.Range(0, distinct).Select(i => (Key: $"{p}k{i:D2}", Value: $"v{i}"))
            .Concat(Enumerable.Range(0, sameKey).Select(i => (Key: p + "shared", Value: $"s{i}")))
            .ToList();
        var revisions = await Task.WhenAll(puts.Select(async put => (await Kv.PutAsync(Put(put.Key, put.Value))).Header.Revision));

        Assert.Equal(Enumerable.Range(1, distinct + sameKey).Select(i => before + i), revisions.Order());
        var after = await Kv.RangeAsync(Prefix(p));
        Assert.Equal(before + distinct + sameKey, after.Header.Revision);
        for (var i = 0; i < distinct; i++)
        {
            AssertKv(after.Kvs[i], puts[i].Key, puts[i].Value, revisions[i], revisions[i], 1);
        }
        var shared = after.Kvs[distinct];
        var sharedRevisions = revisions[distinct..];
        var last = Array.IndexOf(sharedRevisions, sharedRevisions.Max());
        AssertKv(shared, p + "shared", $"s{last}", sharedRevisions.Min(), sharedRevisions.Max(), sameKey);
    }

    [Fact]
    public async Task ReadsAfterAnAcknowledgedPut_SeeIt_AndHeaderRevisionsNeverGoBack()
    {
        var p = NewPrefix("put");
        using var done = new CancellationTokenSource();
        var observed = new List<long>();
        var reader = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                observed.Add((await Kv.RangeAsync(Prefix(p))).Header.Revision);
            }
        });

        for (var i = 0; i < 40; i++)
        {
            var key = $"{p}{i:D2}";
            var revision = (await Kv.PutAsync(Put(key, "v"))).Header.Revision;
            var read = await Kv.RangeAsync(Get(key));
            Assert.True(read.Header.Revision >= revision, $"read header {read.Header.Revision} below acknowledged write {revision}");
            Assert.Equal(revision, Assert.Single(read.Kvs).ModRevision);
        }
        await done.CancelAsync();
        await reader;

        Assert.NotEmpty(observed);
        Assert.Equal(observed.Order(), observed);
    }

    [Fact]
    public async Task EmptyKey_IsInvalidArgument()
    {
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, EmptyKey,
            () => Kv.PutAsync(new Rpc.PutRequest { Value = B("v") }).ResponseAsync);
    }
}

public sealed class PutTests(KubeBrainFixture fixture) : PutContract(fixture), IClassFixture<KubeBrainFixture>;

public sealed class PutTestsOnEtcd(EtcdFixture fixture) : PutContract(fixture), IClassFixture<EtcdFixture>;

public sealed class PutTestsOnSqlite(SqliteKubeBrainFixture fixture) : PutContract(fixture), IClassFixture<SqliteKubeBrainFixture>;

using System.IO.Compression;
using Google.Protobuf;
using Grpc.Core;
using Xunit;
using static KubeBrain.Tests.Wire.WireHelpers;
using Result = KubeBrain.Protos.Etcdserverpb.Compare.Types.CompareResult;
using Rpc = KubeBrain.Protos.Etcdserverpb;
using Target = KubeBrain.Protos.Etcdserverpb.Compare.Types.CompareTarget;

namespace KubeBrain.Tests.Wire;

/// <summary>
/// The Lease service as etcd answers it, and what leases do to keys; run against KubeBrain and, as the oracle,
/// against etcd 3.4. Every test leaves no lease with keys behind, so no expiry writes a revision during another
/// test of the class. Expiry is time-based: those tests poll with a short interval against a deadline.
/// </summary>
public abstract class LeaseContract(WireFixture fixture)
{
    private const string TtlTooLarge = "etcdserver: too large lease TTL";
    private const string LeaseExists = "etcdserver: lease already exists";
    protected const string KeepAliveMethod = "/etcdserverpb.Lease/LeaseKeepAlive";

    private static readonly TimeSpan ExpiryDeadline = TimeSpan.FromSeconds(15);

    private Rpc.KV.KVClient Kv => fixture.Target.Kv;

    protected WireTarget Server => fixture.Target;

    protected Rpc.Lease.LeaseClient Lease => new(Server.Invoker);

    private static long NewLeaseId() => Random.Shared.NextInt64(1, long.MaxValue);

    /// <summary>Three keys in three key ranges of KubeBrain: events, pods and the default range.</summary>
    private static string[] KeysInThreeRanges()
    {
        var id = Guid.NewGuid().ToString("N");
        return [$"/registry/events/ns{id}/a", $"/registry/pods/ns{id}/b", $"/wire/lease/{id}/c"];
    }

    protected async Task<long> GrantAsync(long ttl, long id = 0) => (await Lease.LeaseGrantAsync(new Rpc.LeaseGrantRequest { TTL = ttl, ID = id })).ID;

    private async Task<long> PutAsync(string key, string value, long lease) =>
        (await Kv.PutAsync(new Rpc.PutRequest { Key = B(key), Value = B(value), Lease = lease })).Header.Revision;

    private Task<Rpc.LeaseTimeToLiveResponse> TimeToLiveAsync(long id, bool keys = false) =>
        Lease.LeaseTimeToLiveAsync(new Rpc.LeaseTimeToLiveRequest { ID = id, Keys = keys }).ResponseAsync;

    private async Task<Rpc.RangeResponse> GetAtAsync(string key, long revision) =>
        await Kv.RangeAsync(new Rpc.RangeRequest { Key = B(key), Revision = revision });

    private AsyncDuplexStreamingCall<Rpc.LeaseKeepAliveRequest, Rpc.LeaseKeepAliveResponse> OpenKeepAlive() =>
        Lease.LeaseKeepAlive(deadline: DateTime.UtcNow + WireTarget.CallDeadline);

    private static async Task<Rpc.LeaseKeepAliveResponse> KeepAliveAsync(
        AsyncDuplexStreamingCall<Rpc.LeaseKeepAliveRequest, Rpc.LeaseKeepAliveResponse> call, long id)
    {
        await call.RequestStream.WriteAsync(new Rpc.LeaseKeepAliveRequest { ID = id });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        return call.ResponseStream.Current;
    }

    /// <summary>Polls <paramref name="key"/> until it is gone; answers the revision of the read that found it gone.</summary>
    private async Task<long> WaitUntilGoneAsync(string key)
    {
        var deadline = DateTime.UtcNow + ExpiryDeadline;
        while (true)
        {
            var read = await Kv.RangeAsync(Get(key));
            if (read.Kvs.Count == 0)
            {
                return read.Header.Revision;
            }
            Assert.True(DateTime.UtcNow < deadline, $"{key} still exists {ExpiryDeadline} later");
            await Task.Delay(100);
        }
    }

    /// <summary>Asserts that every key lived at <paramref name="revision"/> − 1 carrying the lease and is gone at it.</summary>
    private async Task AssertAllDeletedAtAsync(IEnumerable<string> keys, long lease, long revision)
    {
        foreach (var key in keys)
        {
            Assert.Equal(lease, Assert.Single((await GetAtAsync(key, revision - 1)).Kvs).Lease);
            Assert.Empty((await GetAtAsync(key, revision)).Kvs);
        }
    }

    [Fact]
    public async Task Grant_WithAnId_AnswersThatIdAndTheTtl_AtTheCurrentRevision()
    {
        var id = NewLeaseId();
        var revision = await CurrentRevisionAsync(Kv);

        var granted = await Lease.LeaseGrantAsync(new Rpc.LeaseGrantRequest { ID = id, TTL = 60 });

        Assert.Equal((id, 60L, revision, ""), (granted.ID, granted.TTL, granted.Header.Revision, granted.Error));
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id });
    }

    [Fact]
    public async Task Grant_WithIdZero_ChoosesDistinctPositiveIds()
    {
        var first = await GrantAsync(60);
        var second = await GrantAsync(60);

        Assert.True(first > 0 && second > 0, $"ids {first} and {second}");
        Assert.NotEqual(first, second);
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = first });
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = second });
    }

    [Theory]
    [InlineData(1)]
    [InlineData(0)]
    [InlineData(-5)]
    public async Task Grant_BelowTheMinimumTtl_IsRaisedToTwoSeconds(long ttl)
    {
        var granted = await Lease.LeaseGrantAsync(new Rpc.LeaseGrantRequest { TTL = ttl });
        var timeToLive = await TimeToLiveAsync(granted.ID);

        Assert.Equal(2, granted.TTL);
        Assert.Equal(2, timeToLive.GrantedTTL);
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = granted.ID });
    }

    [Fact]
    public async Task Grant_AtTheMaximumTtl_IsGranted_AndAboveItIsOutOfRange()
    {
        var id = NewLeaseId();

        await AssertRpcErrorAsync(StatusCode.OutOfRange, TtlTooLarge,
            () => Lease.LeaseGrantAsync(new Rpc.LeaseGrantRequest { ID = id, TTL = 9_000_000_001 }).ResponseAsync);
        var granted = await Lease.LeaseGrantAsync(new Rpc.LeaseGrantRequest { ID = id, TTL = 9_000_000_000 });

        Assert.Equal(9_000_000_000, granted.TTL);
        Assert.Equal(9_000_000_000, (await TimeToLiveAsync(id)).GrantedTTL);
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id });
    }

    [Fact]
    public async Task Grant_OfALiveId_IsFailedPrecondition_AndARevokedIdCanBeGrantedAgain()
    {
        var id = await GrantAsync(60, NewLeaseId());

        await AssertRpcErrorAsync(StatusCode.FailedPrecondition, LeaseExists,
            () => Lease.LeaseGrantAsync(new Rpc.LeaseGrantRequest { ID = id, TTL = 30 }).ResponseAsync);
        Assert.Equal(60, (await TimeToLiveAsync(id)).GrantedTTL);
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id });

        Assert.Equal(30, (await Lease.LeaseGrantAsync(new Rpc.LeaseGrantRequest { ID = id, TTL = 30 })).TTL);
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id });
    }

    [Fact]
    public async Task Revoke_OfAnUnknownLease_IsNotFound()
    {
        var id = await GrantAsync(60);
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id });

        await AssertRpcErrorAsync(StatusCode.NotFound, LeaseNotFound,
            () => Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id }).ResponseAsync);
        await AssertRpcErrorAsync(StatusCode.NotFound, LeaseNotFound,
            () => Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = NewLeaseId() }).ResponseAsync);
    }

    [Fact]
    public async Task TimeToLive_OfAnUnknownLease_AnswersMinusOne_AtTheCurrentRevision()
    {
        var id = NewLeaseId();
        var revision = await CurrentRevisionAsync(Kv);

        var response = await TimeToLiveAsync(id, keys: true);

        Assert.Equal((id, -1L, 0L, revision), (response.ID, response.TTL, response.GrantedTTL, response.Header.Revision));
        Assert.Empty(response.Keys);
    }

    [Fact]
    public async Task TimeToLive_AnswersWholeSecondsLeftRoundedDown_AndTheKeysOnlyWhenAsked()
    {
        var keys = KeysInThreeRanges();
        var id = await GrantAsync(60);
        foreach (var key in keys.OrderDescending(StringComparer.Ordinal))
        {
            await PutAsync(key, "v", id);
        }

        var withoutKeys = await TimeToLiveAsync(id);
        var withKeys = await TimeToLiveAsync(id, keys: true);

        Assert.InRange(withoutKeys.TTL, 50, 59);
        Assert.Equal((id, 60L), (withoutKeys.ID, withoutKeys.GrantedTTL));
        Assert.Empty(withoutKeys.Keys);
        Assert.Equal(await CurrentRevisionAsync(Kv), withKeys.Header.Revision);
        Assert.Equal(keys.Order(StringComparer.Ordinal), withKeys.Keys.Select(S).Order(StringComparer.Ordinal));
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id });
    }

    [Fact]
    public async Task Leases_ListsTheLiveLeases_AtTheCurrentRevision()
    {
        var a = await GrantAsync(60);
        var b = await GrantAsync(120);

        var both = await Lease.LeaseLeasesAsync(new Rpc.LeaseLeasesRequest());
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = a });
        var one = await Lease.LeaseLeasesAsync(new Rpc.LeaseLeasesRequest());

        Assert.Contains(a, both.Leases.Select(l => l.ID));
        Assert.Contains(b, both.Leases.Select(l => l.ID));
        Assert.DoesNotContain(a, one.Leases.Select(l => l.ID));
        Assert.Contains(b, one.Leases.Select(l => l.ID));
        Assert.Equal(await CurrentRevisionAsync(Kv), one.Header.Revision);
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = b });
    }

    [Fact]
    public async Task KeepAlive_AnswersEachRequestInOrder_ZeroForAnUnknownLease_AndEndsWhenTheClientCloses()
    {
        var id = await GrantAsync(30);
        var unknown = NewLeaseId();
        var revision = await CurrentRevisionAsync(Kv);
        using var call = OpenKeepAlive();

        var first = await KeepAliveAsync(call, id);
        var missing = await KeepAliveAsync(call, unknown);
        var again = await KeepAliveAsync(call, id);
        await call.RequestStream.CompleteAsync();

        Assert.Equal((id, 30L, revision), (first.ID, first.TTL, first.Header.Revision));
        Assert.Equal((unknown, 0L, revision), (missing.ID, missing.TTL, missing.Header.Revision));
        Assert.Equal((id, 30L), (again.ID, again.TTL));
        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id });
    }

    [Fact]
    public async Task KeepAlive_ManyRequestsInFlight_AreAnsweredInOrder()
    {
        var ids = new[] { await GrantAsync(30), NewLeaseId(), await GrantAsync(40) };
        using var call = OpenKeepAlive();

        for (var i = 0; i < 30; i++)
        {
            await call.RequestStream.WriteAsync(new Rpc.LeaseKeepAliveRequest { ID = ids[i % 3] });
        }
        await call.RequestStream.CompleteAsync();
        var answers = new List<(long, long)>();
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            answers.Add((call.ResponseStream.Current.ID, call.ResponseStream.Current.TTL));
        }

        Assert.Equal(Enumerable.Range(0, 30).Select(i => (ids[i % 3], new[] { 30L, 0L, 40L }[i % 3])), answers);
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = ids[0] });
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = ids[2] });
    }

    [Fact]
    public async Task KeepAlive_OnAStreamPerRequest_ResetAfterEachAnswer_AnswersEveryOne()
    {
        var id = await GrantAsync(30);

        for (var i = 0; i < 20; i++)
        {
            // etcd's KeepAliveOnce: a stream for one request, reset once it is answered (disposing an unfinished call).
            using var call = OpenKeepAlive();
            var answer = await KeepAliveAsync(call, id);
            Assert.Equal((id, 30L), (answer.ID, answer.TTL));
        }

        Assert.Equal(30, (await TimeToLiveAsync(id)).GrantedTTL);
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id });
    }

    [Fact]
    public async Task KeepAlive_RequestsCutAndJoinedAcrossWrites_AreAnsweredInOrder_AndTheStreamEndsWithOk()
    {
        var id = await GrantAsync(30);
        var unknown = NewLeaseId();
        var frames = new[] { id, unknown, id }.Select(l => RawGrpcStream.Frame(new Rpc.LeaseKeepAliveRequest { ID = l })).ToArray();
        await using var call = new RawGrpcStream(Server.Endpoint, KeepAliveMethod);

        call.Write(frames[0], frames[1][..3]);
        var first = await call.ReadAsync(Rpc.LeaseKeepAliveResponse.Parser);
        call.Write(frames[1][3..7]);
        call.Write(frames[1][7..], frames[2]);
        var second = await call.ReadAsync(Rpc.LeaseKeepAliveResponse.Parser);
        var third = await call.ReadAsync(Rpc.LeaseKeepAliveResponse.Parser);
        call.Complete();

        Assert.Equal((id, 30L), (first!.ID, first.TTL));
        Assert.Equal((unknown, 0L), (second!.ID, second.TTL));
        Assert.Equal((id, 30L), (third!.ID, third.TTL));
        Assert.Null(await call.ReadAsync(Rpc.LeaseKeepAliveResponse.Parser));
        Assert.Equal(StatusCode.OK, await call.StatusCodeAsync());
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id });
    }

    [Fact]
    public async Task KeepAlive_ARequestCutShortByTheEndOfTheStream_IsInternal_AfterTheWholeOnesAreAnswered()
    {
        var id = await GrantAsync(30);
        var frame = RawGrpcStream.Frame(new Rpc.LeaseKeepAliveRequest { ID = id });
        await using var call = new RawGrpcStream(Server.Endpoint, KeepAliveMethod);

        call.Write(frame, frame[..8]);
        var first = await call.ReadAsync(Rpc.LeaseKeepAliveResponse.Parser);
        call.Complete();

        Assert.Equal((id, 30L), (first!.ID, first.TTL));
        Assert.Null(await call.ReadAsync(Rpc.LeaseKeepAliveResponse.Parser));
        Assert.Equal(StatusCode.Internal, await call.StatusCodeAsync());
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id });
    }

    [Fact]
    public async Task KeepAlive_ARequestOverTheMessageLimit_IsResourceExhausted_BeforeItsBytesArrive()
    {
        await using var call = new RawGrpcStream(Server.Endpoint, KeepAliveMethod);

        call.Write(RawGrpcStream.Frame([], length: 4 * 1024 * 1024));

        Assert.Null(await call.ReadAsync(Rpc.LeaseKeepAliveResponse.Parser));
        Assert.Equal(StatusCode.ResourceExhausted, await call.StatusCodeAsync());
    }

    [Fact]
    public async Task Put_WithALiveLease_ShowsTheLeaseInTheKv_InPutsAndTxns()
    {
        var keys = KeysInThreeRanges();
        var id = await GrantAsync(60);

        var put = await PutAsync(keys[0], "v", id);
        var txn = await Kv.TxnAsync(Txn(
            [Cmp(keys[1], Target.Mod, Result.Equal, 0)],
            [new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = B(keys[1]), Value = B("w"), Lease = id } }]));

        AssertKv(Assert.Single((await Kv.RangeAsync(Get(keys[0]))).Kvs), keys[0], "v", put, put, 1, lease: id);
        AssertKv(Assert.Single((await Kv.RangeAsync(Get(keys[1]))).Kvs), keys[1], "w", put + 1, put + 1, 1, lease: id);
        Assert.True(txn.Succeeded);
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id });
    }

    [Fact]
    public async Task Put_WithARevokedLease_IsNotFound_AndTakesNoRevision()
    {
        var key = KeysInThreeRanges()[1];
        var id = await GrantAsync(60);
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id });
        var revision = await CurrentRevisionAsync(Kv);

        await AssertRpcErrorAsync(StatusCode.NotFound, LeaseNotFound, () => Kv.PutAsync(new Rpc.PutRequest { Key = B(key), Value = B("v"), Lease = id }).ResponseAsync);

        Assert.Equal(revision, await CurrentRevisionAsync(Kv));
        Assert.Empty((await Kv.RangeAsync(Get(key))).Kvs);
    }

    [Fact]
    public async Task Revoke_DeletesEveryAttachedKey_AcrossRanges_InOneRevision()
    {
        var keys = KeysInThreeRanges();
        var outsider = keys[2] + "-no-lease";
        var id = await GrantAsync(60);
        foreach (var key in keys)
        {
            await PutAsync(key, "v", id);
        }
        var before = await PutAsync(outsider, "stays", 0);

        var revoked = await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id });

        Assert.Equal(before + 1, revoked.Header.Revision);
        Assert.Equal(before + 1, await CurrentRevisionAsync(Kv));
        await AssertAllDeletedAtAsync(keys, id, before + 1);
        Assert.Single((await Kv.RangeAsync(Get(outsider))).Kvs);
        Assert.Equal(-1, (await TimeToLiveAsync(id)).TTL);
    }

    [Fact]
    public async Task Revoke_DeletesOnlyTheKeysWhoseLiveVersionStillCarriesTheLease()
    {
        var keys = KeysInThreeRanges();
        var id = await GrantAsync(60);
        var other = await GrantAsync(60);
        var detached = keys[0];
        var moved = keys[1];
        var kept = keys[2];
        var deletedEarlier = kept + "-deleted";
        await PutAsync(detached, "1", id);
        await PutAsync(detached, "2", 0);
        await PutAsync(moved, "1", id);
        await PutAsync(moved, "2", other);
        await PutAsync(deletedEarlier, "1", id);
        await Kv.DeleteRangeAsync(Delete(deletedEarlier));
        var before = await PutAsync(kept, "1", id);

        var attached = await TimeToLiveAsync(id, keys: true);
        var revoked = await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id });

        Assert.Equal([kept], attached.Keys.Select(S));
        Assert.Equal(before + 1, revoked.Header.Revision);
        Assert.Empty((await Kv.RangeAsync(Get(kept))).Kvs);
        AssertKv(Assert.Single((await Kv.RangeAsync(Get(detached))).Kvs), detached, "2", before - 6, before - 5, 2);
        Assert.Equal(other, Assert.Single((await Kv.RangeAsync(Get(moved))).Kvs).Lease);
        Assert.Equal([moved], (await TimeToLiveAsync(other, keys: true)).Keys.Select(S));
        Assert.Equal(before + 2, (await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = other })).Header.Revision);
        Assert.Empty((await Kv.RangeAsync(Get(moved))).Kvs);
    }

    [Fact]
    public async Task Revoke_OfALeaseWithoutKeys_TakesNoRevision()
    {
        var id = await GrantAsync(60);
        var revision = await CurrentRevisionAsync(Kv);

        var revoked = await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id });

        Assert.Equal(revision, revoked.Header.Revision);
        Assert.Equal(revision, await CurrentRevisionAsync(Kv));
    }

    [Fact]
    public async Task Expiry_DeletesEveryAttachedKey_InOneRevision_AndEndsTheLease()
    {
        var keys = KeysInThreeRanges();
        var id = await GrantAsync(3);
        long before = 0;
        foreach (var key in keys)
        {
            before = await PutAsync(key, "v", id);
        }

        var goneAt = await WaitUntilGoneAsync(keys[0]);

        Assert.Equal(before + 1, goneAt);
        await AssertAllDeletedAtAsync(keys, id, before + 1);
        Assert.Equal(-1, (await TimeToLiveAsync(id)).TTL);
        Assert.DoesNotContain(id, (await Lease.LeaseLeasesAsync(new Rpc.LeaseLeasesRequest())).Leases.Select(l => l.ID));
        using var call = OpenKeepAlive();
        Assert.Equal(0, (await KeepAliveAsync(call, id)).TTL);
        await call.RequestStream.CompleteAsync();
        await AssertRpcErrorAsync(StatusCode.NotFound, LeaseNotFound, () => Kv.PutAsync(new Rpc.PutRequest { Key = B(keys[0]), Value = B("v"), Lease = id }).ResponseAsync);
        Assert.Equal(before + 1, await CurrentRevisionAsync(Kv));
    }

    [Fact]
    public async Task KeepAlive_KeepsTheLeaseAliveBeyondItsTtl()
    {
        var key = KeysInThreeRanges()[0];
        var id = await GrantAsync(3);
        using var call = OpenKeepAlive();
        Assert.Equal(3, (await KeepAliveAsync(call, id)).TTL);
        var written = await PutAsync(key, "v", id);
        var keptUntil = DateTime.UtcNow + TimeSpan.FromSeconds(4);

        while (DateTime.UtcNow < keptUntil)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(300));
            Assert.Equal(3, (await KeepAliveAsync(call, id)).TTL);
        }
        var alive = await Kv.RangeAsync(Get(key));
        var timeToLive = await TimeToLiveAsync(id);
        await call.RequestStream.CompleteAsync();

        Assert.Equal(written, Assert.Single(alive.Kvs).ModRevision);
        Assert.Equal(3, timeToLive.GrantedTTL);
        Assert.InRange(timeToLive.TTL, 0, 2);
        Assert.Equal(written + 1, (await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id })).Header.Revision);
    }

    /// <summary>
    /// The kube-apiserver keeps one lease per TTL for Events (3660 s for the default one-hour event TTL) and attaches
    /// up to 1000 objects to it, each created by a Txn that puts only if the key has never been written.
    /// </summary>
    [Fact]
    public async Task Apiserver_OneEventLeaseSharedBy200Keys_AllGoInOneRevisionOnRevoke()
    {
        var ns = "/registry/events/ns" + Guid.NewGuid().ToString("N") + "/";
        var id = await GrantAsync(3660);
        var created = await Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
        {
            var key = $"{ns}event-{i:D3}";
            var txn = Txn(
                [Cmp(key, Target.Mod, Result.Equal, 0)],
                [new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = B(key), Value = B("event"), Lease = id } }]);
            return await Kv.TxnAsync(txn).ResponseAsync;
        }));
        Assert.All(created, c => Assert.True(c.Succeeded));
        var before = await CurrentRevisionAsync(Kv);

        var listed = await Kv.RangeAsync(Prefix(ns));
        var timeToLive = await TimeToLiveAsync(id, keys: true);
        var revoked = await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id });

        Assert.Equal(200, listed.Count);
        Assert.All(listed.Kvs, kv => Assert.Equal(id, kv.Lease));
        Assert.Equal(3660, timeToLive.GrantedTTL);
        Assert.InRange(timeToLive.TTL, 3650, 3659);
        Assert.Equal(200, timeToLive.Keys.Count);
        Assert.Equal(before + 1, revoked.Header.Revision);
        var atBefore = Prefix(ns);
        atBefore.Revision = before;
        Assert.Equal(200, (await Kv.RangeAsync(atBefore)).Count);
        Assert.Equal(0, (await Kv.RangeAsync(Prefix(ns))).Count);
    }

    /// <summary>
    /// The apiserver's endpoint reconciler keeps /registry/masterleases/&lt;ip&gt; on a 15 s lease and rewrites it
    /// every 10 s: here kept alive, then moved to a fresh lease by a guarded update, which detaches it from the old.
    /// </summary>
    [Fact]
    public async Task Apiserver_MasterLease_KeptAlive_ThenMovedToANewLeaseByAnUpdate()
    {
        var key = $"/registry/masterleases/{Guid.NewGuid():N}";
        var first = await GrantAsync(15);
        var created = await Kv.TxnAsync(Txn(
            [Cmp(key, Target.Mod, Result.Equal, 0)],
            [new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = B(key), Value = B("10.0.0.1"), Lease = first } }]));
        using (var call = OpenKeepAlive())
        {
            Assert.Equal(15, (await KeepAliveAsync(call, first)).TTL);
            await call.RequestStream.CompleteAsync();
        }
        var kept = await TimeToLiveAsync(first, keys: true);
        var second = await GrantAsync(15);
        var updated = await Kv.TxnAsync(Txn(
            [Cmp(key, Target.Mod, Result.Equal, created.Header.Revision)],
            [new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = B(key), Value = B("10.0.0.1"), Lease = second } }],
            [OpGet(key)]));

        Assert.InRange(kept.TTL, 8, 14);
        Assert.Equal([key], kept.Keys.Select(S));
        Assert.True(updated.Succeeded);
        Assert.Empty((await TimeToLiveAsync(first, keys: true)).Keys);
        Assert.Equal([key], (await TimeToLiveAsync(second, keys: true)).Keys.Select(S));
        Assert.Equal(updated.Header.Revision, (await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = first })).Header.Revision);
        AssertKv(Assert.Single((await Kv.RangeAsync(Get(key))).Kvs), key, "10.0.0.1", created.Header.Revision, updated.Header.Revision, 2, lease: second);
        Assert.Equal(updated.Header.Revision + 1, (await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = second })).Header.Revision);
        Assert.Empty((await Kv.RangeAsync(Get(key))).Kvs);
    }
}

public sealed class LeaseTests(KubeBrainFixture fixture) : LeaseContract(fixture), IClassFixture<KubeBrainFixture>
{
    /// <summary>
    /// The frontend reads plain keep-alives itself and leaves a compressed one to gRPC's reader, which decompresses it
    /// (etcd 3.4 installs no decompressor and answers Unimplemented); here its header arrives in two writes.
    /// </summary>
    [Fact]
    public async Task KeepAlive_AGzippedRequest_IsAnswered()
    {
        var id = await GrantAsync(30);
        using var gzipped = new MemoryStream();
        using (var gzip = new GZipStream(gzipped, CompressionLevel.Fastest))
        {
            new Rpc.LeaseKeepAliveRequest { ID = id }.WriteTo(gzip);
        }
        await using var call = new RawGrpcStream(Server.Endpoint, KeepAliveMethod, [("grpc-encoding", "gzip")]);

        var frame = RawGrpcStream.Frame(gzipped.ToArray(), compressed: true);
        call.Write(frame[..3]);
        call.Write(frame[3..]);
        var answer = await call.ReadAsync(Rpc.LeaseKeepAliveResponse.Parser);
        call.Complete();

        Assert.Equal((id, 30L), (answer!.ID, answer.TTL));
        Assert.Null(await call.ReadAsync(Rpc.LeaseKeepAliveResponse.Parser));
        Assert.Equal(StatusCode.OK, await call.StatusCodeAsync());
        await Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = id });
    }
}

public sealed class LeaseTestsOnEtcd(EtcdFixture fixture) : LeaseContract(fixture), IClassFixture<EtcdFixture>;

public sealed class LeaseTestsOnSqlite(SqliteKubeBrainFixture fixture) : LeaseContract(fixture), IClassFixture<SqliteKubeBrainFixture>;

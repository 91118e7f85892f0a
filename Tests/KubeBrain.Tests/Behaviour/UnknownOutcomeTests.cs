using System.Text;
using Grpc.Core;
using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.KeyRange;
using KubeBrain.Grains.Sequencer;
using KubeBrain.Grains.Storage;
using KubeBrain.Grains.Storage.InMemory;
using KubeBrain.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Xunit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Behaviour;

/// <summary>
/// A write whose grain call times out while the store still commits it: the client gets Unavailable, and from
/// then on every answer reflects the store's truth — nothing is validated against memory that missed the commit.
/// </summary>
public sealed class UnknownOutcomeTests
{
    private static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan SequencerLease = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task ASingleRangeWriteCommittedAfterItsCallTimedOutIsSeenAndNotOverwritten()
    {
        var store = new GatedStore(new InMemoryMvccStore());
        await using var server = await StartAsync(store);
        await server.Kv.PutAsync(Etcd.Put("k", "v1"));
        var gate = store.HoldNextAppend(batch => HasValue(batch, "v2"));

        var timedOut = server.Kv.PutAsync(Etcd.Put("k", "v2")).ResponseAsync;
        await gate.Reached;
        var casOnPending = server.Kv.TxnAsync(Etcd.Update("k", "vB", 2)).ResponseAsync;
        var error = await Assert.ThrowsAsync<RpcException>(() => timedOut);
        Assert.Equal((StatusCode.Unavailable, "etcdserver: request timed out"), (error.StatusCode, error.Status.Detail));
        gate.Open();

        var cas = await Record.ExceptionAsync(() => casOnPending);
        Assert.True(cas is RpcException { StatusCode: StatusCode.Unavailable } || cas is null);
        var current = (await server.Kv.RangeAsync(Etcd.Get("k"))).Kvs.Single();
        Assert.Equal(("v2", 3L, 2L), (current.Value.ToStringUtf8(), current.ModRevision, current.Version));
        var stale = await server.Kv.TxnAsync(Etcd.Update("k", "vC", 2));
        Assert.False(stale.Succeeded);
    }

    [Fact]
    public async Task AMultiRangeWriteCommittedAfterItsCallTimedOutIsAppliedToEveryRange()
    {
        var store = new GatedStore(new InMemoryMvccStore());
        await using var server = await StartAsync(store);
        await server.Kv.PutAsync(Etcd.Put("/registry/pods/ns/a", "1"));
        await server.Kv.PutAsync(Etcd.Put("/registry/services/ns/b", "1"));
        var gate = store.HoldNextAppend(batch => HasValue(batch, "2"));

        var txn = new Rpc.TxnRequest
        {
            Success =
            {
                new Rpc.RequestOp { RequestPut = Etcd.Put("/registry/pods/ns/a", "2") },
                new Rpc.RequestOp { RequestPut = Etcd.Put("/registry/services/ns/b", "2") },
            },
        };
        var timedOut = server.Kv.TxnAsync(txn).ResponseAsync;
        await gate.Reached;
        var error = await Assert.ThrowsAsync<RpcException>(() => timedOut);
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        gate.Open();

        var pods = await ReadAfterReloadAsync(server, "/registry/pods/ns/a");
        var services = await ReadAfterReloadAsync(server, "/registry/services/ns/b");
        Assert.Equal(("2", 4L), (pods.Value.ToStringUtf8(), pods.ModRevision));
        Assert.Equal(("2", 4L), (services.Value.ToStringUtf8(), services.ModRevision));
    }

    [Fact]
    public async Task WideReadsFindEveryRangeAfterTheSequencerIsCollected()
    {
        await using var server = await KubeBrainInstance.StartAsync();
        var wide = new Rpc.RangeRequest { Key = Etcd.Bytes("/registry/"), RangeEnd = Etcd.PrefixEnd("/registry/"), CountOnly = true };
        await server.Kv.PutAsync(Etcd.Put("/registry/a/1", "x"));
        Assert.Equal(1, (await server.Kv.RangeAsync(wide)).Count);
        Assert.Equal(1, (await server.Kv.RangeAsync(wide)).Count);

        var grains = server.Services.GetRequiredService<IGrainFactory>();
        await grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        await server.Kv.PutAsync(Etcd.Put("/registry/b/1", "x"));
        await server.Kv.PutAsync(Etcd.Put("/registry/c/1", "x"));

        Assert.Equal(3, (await server.Kv.RangeAsync(wide)).Count);
    }

    [Fact]
    public async Task AWriteToALockedKeyWaitsForItsGroupToEnd()
    {
        await using var server = await KubeBrainInstance.StartAsync();
        await server.Kv.PutAsync(Etcd.Put("/registry/pods/ns/a", "1"));
        var pods = server.Services.GetRequiredService<IGrainFactory>().GetGrain<IKeyRangeGrain>("/registry/pods/");
        var key = Encoding.UTF8.GetBytes("/registry/pods/ns/a");
        var group = Guid.NewGuid();
        await pods.LockAsync(group, [KeySpan.Single(key)]);

        var put = pods.TxnAsync(new TxnRequest([], [new PutOp(key, "2"u8.ToArray(), 0, false, false, false)], []));
        // A read of another key of the range waits for every write the range accepted before it: had the put not
        // waited for the lock, it would be committed once this read returns.
        await pods.RangeAsync(new RangeQuery(KeySpan.Single(Encoding.UTF8.GetBytes("/registry/pods/ns/b")), 0, 0, false, false), 2);
        var current = await server.Kv.RangeAsync(Etcd.Get("/registry/pods/ns/b"));
        Assert.Equal((2L, false), (current.Header.Revision, put.IsCompleted));

        await pods.ReleaseAsync(group);
        Assert.Equal(3, (await put).Revision);
    }

    [Fact]
    public async Task ALockWhoseGroupNeverEndsExpiresAndTheRangeServesAgain()
    {
        await using var server = await KubeBrainInstance.StartAsync(customize: builder =>
            builder.Services.Configure<KeyRangeOptions>(o => o.GroupLockLease = TimeSpan.FromSeconds(1)));
        await server.Kv.PutAsync(Etcd.Put("/registry/pods/ns/a", "1"));
        var grains = server.Services.GetRequiredService<IGrainFactory>();
        var pods = grains.GetGrain<IKeyRangeGrain>("/registry/pods/");
        var key = Encoding.UTF8.GetBytes("/registry/pods/ns/a");

        await pods.LockAsync(Guid.NewGuid(), [new KeySpan(key, [])]);

        var written = await WriteAfterReloadAsync(server, Etcd.Put("/registry/pods/ns/a", "2"));
        Assert.Equal(3, written.Header.Revision);
        var current = await ReadAfterReloadAsync(server, "/registry/pods/ns/a");
        Assert.Equal(("2", 2L), (current.Value.ToStringUtf8(), current.Version));
    }

    [Fact]
    public async Task AGroupValidatedBeforeARangeReloadedIsRefused()
    {
        await using var server = await KubeBrainInstance.StartAsync();
        await server.Kv.PutAsync(Etcd.Put("/registry/pods/ns/a", "1"));
        var sequencer = server.Services.GetRequiredService<IGrainFactory>().GetGrain<IRevisionSequencerGrain>(0);
        var directory = await sequencer.DirectoryAsync();

        await sequencer.ClaimRangeAsync("/registry/pods/");
        var key = Encoding.UTF8.GetBytes("/registry/pods/ns/a");
        var write = new KeyWrite(key, [1], 0, 2, false, 2, -1, 2, -1, "/registry/pods/", 1, [0x31], 0);
        var submitted = await sequencer.SubmitAsync(new Submission("group", 0, [new RevisionWrites([write])], directory.Version));

        Assert.Equal([SubmitStatus.Retry], submitted.Statuses);
        Assert.True((await sequencer.DirectoryAsync()).Version > directory.Version);
        Assert.Equal(2, (await sequencer.BarrierAsync()).Revision);
    }

    /// <summary>
    /// A sequencer deposed while its renewals stall (a successor took the epoch and wrote revision 3) must not answer
    /// a read with its own, older revision once its time lease has lapsed: the read waits for a renewal, which is
    /// fenced, and ends Unavailable; the next activation answers with the successor's revision.
    /// </summary>
    [Fact]
    public async Task ADeposedSequencerWhoseLeaseLapsedAnswersNoStaleRead()
    {
        var store = new GatedStore(new InMemoryMvccStore());
        await using var server = await StartWithLeaseAsync(store);
        await server.Kv.PutAsync(Etcd.Put("k", "v1"));
        var renewals = store.HoldRenewals();

        var successor = await store.OpenAsync(SequencerLease, CancellationToken.None);
        var row = new StoredRow(3, 0, Encoding.UTF8.GetBytes("other"), 3, 1, 0, [1], false, 0, "default", 1);
        await store.AppendAsync(new CommitBatch(successor.Epoch, 1, 3, 3, [row]), CancellationToken.None);
        var read = server.Kv.RangeAsync(Etcd.Get("k")).ResponseAsync;
        // The deposed activation must not answer while its renewal is held: give a wrong answer time to arrive.
        await Task.WhenAny(read, Task.Delay(SequencerLease));
        renewals.SetResult();

        var answered = await Record.ExceptionAsync(() => read);
        if (answered is null)
        {
            Assert.True((await read).Header.Revision >= 3, $"a stale read at revision {(await read).Header.Revision}");
        }
        else
        {
            Assert.Equal(StatusCode.Unavailable, Assert.IsType<RpcException>(answered).StatusCode);
        }
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                Assert.Equal(3, (await server.Kv.RangeAsync(Etcd.Get("k"))).Header.Revision);
                break;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && DateTime.UtcNow < deadline)
            {
            }
        }
    }

    /// <summary>
    /// A deposed sequencer's store writes are fenced: a range claim it still accepts is answered Unavailable and
    /// writes nothing, and the activation gives way, so the next call meets one that loaded the successor's state.
    /// </summary>
    [Fact]
    public async Task ADeposedSequencersClaimIsRefusedAndItGivesWay()
    {
        var store = new GatedStore(new InMemoryMvccStore());
        await using var server = await StartWithLeaseAsync(store);
        await server.Kv.PutAsync(Etcd.Put("/registry/pods/ns/a", "1"));
        var sequencer = server.Services.GetRequiredService<IGrainFactory>().GetGrain<IRevisionSequencerGrain>(0);
        var renewals = store.HoldRenewals();
        var successor = await store.OpenAsync(SequencerLease, CancellationToken.None);
        var before = await store.ListRangesAsync(CancellationToken.None);

        await Assert.ThrowsAsync<StoreUnavailableException>(() => sequencer.ClaimRangeAsync("/registry/pods/"));

        Assert.Equal(before, await store.ListRangesAsync(CancellationToken.None));
        renewals.SetResult();
        await store.ReleaseLeaseAsync(successor.Epoch, CancellationToken.None);
        var claim = await sequencer.ClaimRangeAsync("/registry/pods/");
        Assert.Equal(before.Single(r => r.RangeId == "/registry/pods/").Epoch + 1, claim.Epoch);
        Assert.Equal(2, claim.Revision);
    }

    /// <summary>A server on <paramref name="store"/> whose sequencer holds a short time lease.</summary>
    private static Task<KubeBrainInstance> StartWithLeaseAsync(IMvccStore store) =>
        KubeBrainInstance.StartAsync(customize: builder =>
        {
            builder.Services.AddSingleton(store);
            builder.Services.Configure<SequencerOptions>(o => o.LeaseDuration = SequencerLease);
        });

    private static Task<KubeBrainInstance> StartAsync(IMvccStore store) =>
        KubeBrainInstance.StartAsync(customize: builder =>
        {
            builder.Services.AddSingleton(store);
            builder.Services.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = ResponseTimeout);
        });

    /// <summary>Reads a key, retrying while its range answers Unavailable during its reload.</summary>
    private static async Task<Protos.Mvccpb.KeyValue> ReadAfterReloadAsync(KubeBrainInstance server, string key)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                return (await server.Kv.RangeAsync(Etcd.Get(key))).Kvs.Single();
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && DateTime.UtcNow < deadline)
            {
            }
        }
    }

    /// <summary>Writes, retrying while the range answers Unavailable during its reload.</summary>
    private static async Task<Rpc.PutResponse> WriteAfterReloadAsync(KubeBrainInstance server, Rpc.PutRequest put)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                return await server.Kv.PutAsync(put, deadline: deadline);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && DateTime.UtcNow < deadline)
            {
            }
        }
    }

    private static bool HasValue(CommitBatch batch, string value) =>
        batch.Rows.Any(row => !row.Tombstone && Encoding.UTF8.GetString(row.Value) == value);
}

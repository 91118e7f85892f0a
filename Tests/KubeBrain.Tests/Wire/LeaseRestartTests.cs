using Grpc.Core;
using KubeBrain.Silo;
using KubeBrain.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Xunit;
using static KubeBrain.Tests.Wire.WireHelpers;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Wire;

/// <summary>
/// Leases on SQLite across a stop and a start on the same data directory: they survive, re-armed for their full
/// TTL as etcd re-arms them without checkpoints, still expire, and keys left carrying a lease that no longer exists
/// (a revoke cut short between ending the lease and deleting its keys) are deleted once the server is back.
/// </summary>
public sealed class LeaseRestartTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    private readonly string _dataDir = Directory.CreateTempSubdirectory("kubebrain-lease-restart-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    private Task<KubeBrainInstance> StartAsync() => KubeBrainInstance.StartAsync(StorageKind.Sqlite, _dataDir);

    private static Rpc.Lease.LeaseClient LeaseOf(KubeBrainInstance server) => new(server.Channel);

    private static async Task<long> PutAsync(KubeBrainInstance server, string key, long lease) =>
        (await server.Kv.PutAsync(new Rpc.PutRequest { Key = B(key), Value = B("v"), Lease = lease })).Header.Revision;

    /// <summary>Polls <paramref name="key"/> until it is gone; answers the revision of the read that found it gone.</summary>
    private static async Task<long> WaitUntilGoneAsync(KubeBrainInstance server, string key)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (true)
        {
            var read = await server.Kv.RangeAsync(Get(key));
            if (read.Kvs.Count == 0)
            {
                return read.Header.Revision;
            }
            Assert.True(DateTime.UtcNow < deadline, $"{key} still exists {Deadline} later");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task ALease_SurvivesARestart_ReArmedForItsFullTtl_WithItsKeys()
    {
        string[] keys = ["/registry/pods/ns/p", "/plain/k"];
        await using (var first = await StartAsync())
        {
            await LeaseOf(first).LeaseGrantAsync(new Rpc.LeaseGrantRequest { ID = 7, TTL = 60 });
            await LeaseOf(first).LeaseGrantAsync(new Rpc.LeaseGrantRequest { ID = 8, TTL = 30 });
            foreach (var key in keys)
            {
                await PutAsync(first, key, 7);
            }
            await LeaseOf(first).LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = 8 });
        }

        await using var second = await StartAsync();
        var lease = LeaseOf(second);

        var timeToLive = await lease.LeaseTimeToLiveAsync(new Rpc.LeaseTimeToLiveRequest { ID = 7, Keys = true });
        Assert.Equal(60, timeToLive.GrantedTTL);
        Assert.InRange(timeToLive.TTL, 50, 59);
        Assert.Equal(keys.Order(StringComparer.Ordinal), timeToLive.Keys.Select(S));
        Assert.Equal([7L], (await lease.LeaseLeasesAsync(new Rpc.LeaseLeasesRequest())).Leases.Select(l => l.ID));
        await AssertRpcErrorAsync(StatusCode.NotFound, LeaseNotFound, () => second.Kv.PutAsync(new Rpc.PutRequest { Key = B("/x"), Lease = 8 }).ResponseAsync);
        await AssertRpcErrorAsync(StatusCode.FailedPrecondition, "etcdserver: lease already exists",
            () => lease.LeaseGrantAsync(new Rpc.LeaseGrantRequest { ID = 7, TTL = 5 }).ResponseAsync);
        var before = await CurrentRevisionAsync(second.Kv);
        Assert.Equal(before + 1, (await lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = 7 })).Header.Revision);
        foreach (var key in keys)
        {
            Assert.Empty((await second.Kv.RangeAsync(Get(key))).Kvs);
            Assert.Single((await second.Kv.RangeAsync(new Rpc.RangeRequest { Key = B(key), Revision = before })).Kvs);
        }
    }

    [Fact]
    public async Task ALease_StillExpiresAfterARestart()
    {
        const string key = "/registry/events/ns/e";
        long written;
        await using (var first = await StartAsync())
        {
            var granted = await LeaseOf(first).LeaseGrantAsync(new Rpc.LeaseGrantRequest { TTL = 3 });
            written = await PutAsync(first, key, granted.ID);
        }

        await using var second = await StartAsync();

        Assert.Equal(written + 1, await WaitUntilGoneAsync(second, key));
        Assert.Empty((await LeaseOf(second).LeaseLeasesAsync(new Rpc.LeaseLeasesRequest())).Leases);
    }

    [Fact]
    public async Task KeysOfALeaseThatNoLongerExists_AreDeletedInOneRevision_OnceTheServerIsBack()
    {
        string[] keys = ["/registry/events/ns/a", "/registry/pods/ns/b", "c"];
        long written;
        await using (var first = await StartAsync())
        {
            await LeaseOf(first).LeaseGrantAsync(new Rpc.LeaseGrantRequest { ID = 9, TTL = 600 });
            foreach (var key in keys)
            {
                await PutAsync(first, key, 9);
            }
            written = await PutAsync(first, "d", 0);
        }
        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(_dataDir, KubeBrainServer.DatabaseFile)};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var revoke = connection.CreateCommand();
            revoke.CommandText = "DELETE FROM leases WHERE id = 9";
            Assert.Equal(1, await revoke.ExecuteNonQueryAsync());
        }

        await using var second = await StartAsync();

        Assert.Equal(written + 1, await WaitUntilGoneAsync(second, keys[0]));
        foreach (var key in keys)
        {
            Assert.Empty((await second.Kv.RangeAsync(Get(key))).Kvs);
            Assert.Equal(9, Assert.Single((await second.Kv.RangeAsync(new Rpc.RangeRequest { Key = B(key), Revision = written })).Kvs).Lease);
        }
        Assert.Single((await second.Kv.RangeAsync(Get("d"))).Kvs);
        Assert.Equal(-1, (await LeaseOf(second).LeaseTimeToLiveAsync(new Rpc.LeaseTimeToLiveRequest { ID = 9 })).TTL);
    }
}

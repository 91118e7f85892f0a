using System.Globalization;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using KubeBrain.Silo;
using KubeBrain.Tests.Infrastructure;
using Xunit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Migration;

/// <summary>
/// kubebrain-migrate run as a user runs it: a real etcd 3.4 holding a data set is migrated into a fresh KubeBrain
/// while writes go on, then cut over; that KubeBrain is exported into a second fresh etcd the same way. After each
/// run the two stores hold the same keys and values under the prefix, the same leases (same IDs, a TTL left that
/// is above 0 and at most the source's grant) with the same keys attached, and nothing outside the prefix.
/// </summary>
public sealed class MigrateTests
{
    private const string Prefix = "/registry";
    private const string CutoverKey = "/registry/kubebrain-migrate-cutover";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly int[] ValueSizes = [0, 1, 17, 200, 1_500, 12_000, 70_000];
    private static readonly string[] Kinds = ["pods", "configmaps", "secrets"];

    [Fact]
    public async Task MigrateFromEtcdAndExportBackCarryKeysValuesAndLeases()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var kubeBrain = await KubeBrainInstance.StartAsync(StorageKind.Sqlite);
        await using var exported = await EtcdProcess.StartAsync();
        var source = new Client(etcd.Channel);
        var loaded = await LoadAsync(source);

        await using (var migrate = MigrateProcess.Start("migrate", "--from", etcd.Endpoint, "--to", kubeBrain.Endpoint, "--prefix", Prefix))
        {
            await WriteAsync(source, "during-copy");
            await migrate.WaitForOutputAsync("now following", Timeout);
            var tailLease = await WriteDuringTailAsync(source, loaded);
            await WaitUntilEndedAsync(source, loaded.Short);
            await source.Kv.PutAsync(Etcd.Put(CutoverKey, "now"));
            Assert.Equal(0, await migrate.WaitForExitAsync(Timeout));

            var target = new Client(kubeBrain.Channel);
            await AssertSameAsync(source, target);
            await AssertPastCutoverAsync(migrate.Output, target);
            var leases = (await target.Lease.LeaseLeasesAsync(new Rpc.LeaseLeasesRequest())).Leases.Select(l => l.ID).ToHashSet();
            Assert.Equal(new HashSet<long> { loaded.Kept, tailLease }, leases);
            Assert.Equal(tailLease, (await target.Kv.RangeAsync(Etcd.Get("/registry/events/ns-2/new-0"))).Kvs.Single().Lease);
        }

        var kubeBrainSide = new Client(kubeBrain.Channel);
        await using (var export = MigrateProcess.Start("export", "--from", kubeBrain.Endpoint, "--to", exported.Endpoint, "--prefix", Prefix))
        {
            await export.WaitForOutputAsync("now following", Timeout);
            await WriteAsync(kubeBrainSide, "after-migration");
            var exportLease = (await kubeBrainSide.Lease.LeaseGrantAsync(new Rpc.LeaseGrantRequest { TTL = 800 })).ID;
            await kubeBrainSide.Kv.PutAsync(new Rpc.PutRequest { Key = Etcd.Bytes("/registry/events/ns-3/exported"), Value = Etcd.Bytes("e"), Lease = exportLease });
            await kubeBrainSide.Kv.PutAsync(Etcd.Put(CutoverKey, "now"));
            Assert.Equal(0, await export.WaitForExitAsync(Timeout));
            await AssertSameAsync(kubeBrainSide, new Client(exported.Channel));
            await AssertPastCutoverAsync(export.Output, new Client(exported.Channel));
        }
    }

    /// <summary>The leases a data set was loaded with: one kept, one revoked during the tail, one that runs out.</summary>
    private sealed record Loaded(long Kept, long Revoked, long Short);

    private sealed class Client(GrpcChannel channel)
    {
        public Rpc.KV.KVClient Kv { get; } = new(channel);

        public Rpc.Lease.LeaseClient Lease { get; } = new(channel);
    }

    /// <summary>
    /// A few hundred keys under the prefix with values from empty to 1 MiB, some written twice and some deleted;
    /// events attached to two long leases and two keys to a 3 s lease; keys outside the prefix.
    /// </summary>
    private static async Task<Loaded> LoadAsync(Client etcd)
    {
        var kept = (await etcd.Lease.LeaseGrantAsync(new Rpc.LeaseGrantRequest { TTL = 600 })).ID;
        var revoked = (await etcd.Lease.LeaseGrantAsync(new Rpc.LeaseGrantRequest { TTL = 900 })).ID;
        var shortLived = (await etcd.Lease.LeaseGrantAsync(new Rpc.LeaseGrantRequest { TTL = 3 })).ID;
        for (var i = 0; i < 300; i++)
        {
            var key = ObjectKey(i);
            await etcd.Kv.PutAsync(new Rpc.PutRequest { Key = Etcd.Bytes(key), Value = Value(i, ValueSizes[i % ValueSizes.Length]) });
            if (i % 4 == 0)
            {
                await etcd.Kv.PutAsync(new Rpc.PutRequest { Key = Etcd.Bytes(key), Value = Value(i + 1, ValueSizes[(i + 3) % ValueSizes.Length]) });
            }
            if (i % 10 == 5)
            {
                await etcd.Kv.DeleteRangeAsync(new Rpc.DeleteRangeRequest { Key = Etcd.Bytes(key) });
            }
        }
        await etcd.Kv.PutAsync(new Rpc.PutRequest { Key = Etcd.Bytes("/registry/configmaps/big/one"), Value = Value(7, 1 << 20) });
        for (var j = 0; j < 20; j++)
        {
            await etcd.Kv.PutAsync(new Rpc.PutRequest { Key = Etcd.Bytes($"/registry/events/ns-1/ev-{j:D2}"), Value = Value(j, 300), Lease = j < 10 ? kept : revoked });
        }
        for (var j = 0; j < 2; j++)
        {
            await etcd.Kv.PutAsync(new Rpc.PutRequest { Key = Etcd.Bytes($"/registry/masterleases/10.0.0.{j}"), Value = Value(j, 40), Lease = shortLived });
        }
        await etcd.Kv.PutAsync(Etcd.Put("/other/one", "outside the prefix"));
        return new Loaded(kept, revoked, shortLived);
    }

    /// <summary>Updates, deletes and creates under the prefix, and a key outside it.</summary>
    private static async Task WriteAsync(Client store, string round)
    {
        for (var i = 1; i < 60; i += 3)
        {
            await store.Kv.PutAsync(new Rpc.PutRequest { Key = Etcd.Bytes(ObjectKey(i)), Value = Etcd.Bytes($"{round} {i}") });
        }
        for (var i = 2; i < 100; i += 10)
        {
            await store.Kv.DeleteRangeAsync(new Rpc.DeleteRangeRequest { Key = Etcd.Bytes(ObjectKey(i)) });
        }
        for (var i = 0; i < 15; i++)
        {
            await store.Kv.PutAsync(Etcd.Put($"/registry/pods/{round}/p-{i:D2}", round));
        }
        await store.Kv.PutAsync(Etcd.Put($"/other/{round}", round));
    }

    /// <summary>
    /// Changes the tail must carry: a lease granted now with keys on it, a key moved onto a lease and one taken
    /// off, a revoke (its keys deleted in one revision), a prefix delete and a txn of several puts (one revision
    /// each), a key put and deleted in successive revisions. Answers the new lease.
    /// </summary>
    private static async Task<long> WriteDuringTailAsync(Client etcd, Loaded loaded)
    {
        var lease = (await etcd.Lease.LeaseGrantAsync(new Rpc.LeaseGrantRequest { TTL = 700 })).ID;
        for (var j = 0; j < 3; j++)
        {
            await etcd.Kv.PutAsync(new Rpc.PutRequest { Key = Etcd.Bytes($"/registry/events/ns-2/new-{j}"), Value = Value(j, 500), Lease = lease });
        }
        await etcd.Kv.PutAsync(new Rpc.PutRequest { Key = Etcd.Bytes(ObjectKey(3)), Value = Etcd.Bytes("now leased"), Lease = loaded.Kept });
        await etcd.Kv.PutAsync(Etcd.Put("/registry/events/ns-1/ev-00", "no longer leased"));
        await etcd.Lease.LeaseRevokeAsync(new Rpc.LeaseRevokeRequest { ID = loaded.Revoked });
        await etcd.Kv.DeleteRangeAsync(new Rpc.DeleteRangeRequest { Key = Etcd.Bytes("/registry/secrets/ns-3/"), RangeEnd = Etcd.PrefixEnd("/registry/secrets/ns-3/") });
        await etcd.Kv.TxnAsync(new Rpc.TxnRequest
        {
            Success =
            {
                new Rpc.RequestOp { RequestPut = Etcd.Put("/registry/pods/txn/a", "a") },
                new Rpc.RequestOp { RequestPut = Etcd.Put("/registry/pods/txn/b", "b") },
                new Rpc.RequestOp { RequestDeleteRange = new Rpc.DeleteRangeRequest { Key = Etcd.Bytes(ObjectKey(0)) } },
            },
        });
        await etcd.Kv.PutAsync(Etcd.Put("/registry/pods/flip", "here"));
        await etcd.Kv.DeleteRangeAsync(new Rpc.DeleteRangeRequest { Key = Etcd.Bytes("/registry/pods/flip") });
        await etcd.Kv.PutAsync(Etcd.Put("/registry/pods/flop", "1"));
        await etcd.Kv.PutAsync(Etcd.Put("/registry/pods/flop", "2"));
        await etcd.Kv.PutAsync(Etcd.Put("/other/two", "outside the prefix"));
        return lease;
    }

    private static async Task WaitUntilEndedAsync(Client etcd, long lease)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while ((await etcd.Lease.LeaseTimeToLiveAsync(new Rpc.LeaseTimeToLiveRequest { ID = lease })).TTL != -1)
        {
            Assert.True(DateTime.UtcNow < deadline, "the short lease did not run out");
            await Task.Delay(200);
        }
    }

    private static async Task AssertSameAsync(Client source, Client target)
    {
        var expected = await KeysAsync(source);
        var actual = await KeysAsync(target);
        Assert.True(expected.Count > 250, $"only {expected.Count} keys under {Prefix}");
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, kv) in expected)
        {
            Assert.True(kv.Value == actual[key].Value, $"{key}: the value differs");
            Assert.True(kv.Lease == actual[key].Lease, $"{key}: lease {actual[key].Lease:x} instead of {kv.Lease:x}");
        }
        Assert.Empty((await target.Kv.RangeAsync(Etcd.List("/other/"))).Kvs);

        var sourceLeases = await LeasesAsync(source);
        var targetLeases = await LeasesAsync(target);
        Assert.Equal(sourceLeases.Keys.Order(), targetLeases.Keys.Order());
        foreach (var (id, granted) in sourceLeases)
        {
            var copy = targetLeases[id];
            Assert.InRange(copy.TTL, 1, granted.GrantedTTL);
            Assert.Equal(Attached(granted), Attached(copy));
        }
    }

    /// <summary>
    /// The target's revision is past the cut-over's, so every resourceVersion from the source is in its past, and
    /// compacted there, so that no read sees a state of the copy.
    /// </summary>
    private static async Task AssertPastCutoverAsync(string output, Client target)
    {
        var cutover = long.Parse(Regex.Match(output, "Cut over at revision ([0-9]+) ").Groups[1].Value, CultureInfo.InvariantCulture);
        var revision = (await target.Kv.RangeAsync(Etcd.Get(CutoverKey))).Header.Revision;
        Assert.True(revision > cutover, $"the target is at revision {revision}, not past the cut-over's {cutover}");
        Assert.Contains("get 410 Gone and relist", output, StringComparison.Ordinal);
        var old = await Assert.ThrowsAsync<RpcException>(() => target.Kv.RangeAsync(Etcd.List(Prefix, revision: revision - 1)).ResponseAsync);
        Assert.Equal(StatusCode.OutOfRange, old.StatusCode);
    }

    private static async Task<Dictionary<string, Protos.Mvccpb.KeyValue>> KeysAsync(Client store)
    {
        var listed = await store.Kv.RangeAsync(Etcd.List(Prefix));
        return listed.Kvs.Where(kv => kv.Key.ToStringUtf8() != CutoverKey).ToDictionary(kv => kv.Key.ToStringUtf8());
    }

    private static async Task<Dictionary<long, Rpc.LeaseTimeToLiveResponse>> LeasesAsync(Client store)
    {
        var leases = new Dictionary<long, Rpc.LeaseTimeToLiveResponse>();
        foreach (var lease in (await store.Lease.LeaseLeasesAsync(new Rpc.LeaseLeasesRequest())).Leases)
        {
            leases[lease.ID] = await store.Lease.LeaseTimeToLiveAsync(new Rpc.LeaseTimeToLiveRequest { ID = lease.ID, Keys = true });
        }
        return leases;
    }

    private static string[] Attached(Rpc.LeaseTimeToLiveResponse lease) => [.. lease.Keys.Select(k => k.ToStringUtf8()).Order(StringComparer.Ordinal)];

    private static string ObjectKey(int i) => $"/registry/{Kinds[i % Kinds.Length]}/ns-{i % 5}/obj-{i:D3}";

    private static ByteString Value(int seed, int size)
    {
        var bytes = new byte[size];
        for (var i = 0; i < size; i++)
        {
            bytes[i] = (byte)('a' + ((seed + i) % 26));
        }
        return ByteString.CopyFrom(bytes);
    }
}

using Grpc.Core;
using KubeBrain.Silo;
using KubeBrain.Tests.Infrastructure;
using Xunit;
using static KubeBrain.Tests.Wire.WireHelpers;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Wire;

/// <summary>
/// A KubeBrain server on SQLite stopped and started again on the same data directory answers as etcd does after a
/// restart: same keys, history and revision, the compaction still in force, and writes continuing from the revision.
/// </summary>
public sealed class RestartTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("kubebrain-restart-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    [Fact]
    public async Task RestartOnTheSameDataDir_KeepsKeysHistoryRevisionAndCompaction()
    {
        long written, compactedAt, current;
        await using (var first = await KubeBrainInstance.StartAsync(StorageKind.Sqlite, _dataDir))
        {
            await first.Kv.PutAsync(Put("/restart/a", "1"));
            compactedAt = (await first.Kv.PutAsync(Put("/restart/a", "2"))).Header.Revision;
            written = (await first.Kv.PutAsync(Put("/registry/pods/default/p", "pod"))).Header.Revision;
            await first.Kv.PutAsync(Put("/restart/b", "b"));
            current = (await first.Kv.DeleteRangeAsync(Delete("/restart/b"))).Header.Revision;
            await first.Kv.CompactAsync(new Rpc.CompactionRequest { Revision = compactedAt });
        }

        await using var second = await KubeBrainInstance.StartAsync(StorageKind.Sqlite, _dataDir);

        var all = await second.Kv.RangeAsync(new Rpc.RangeRequest { Key = FromKey, RangeEnd = FromKey });
        Assert.Equal(current, all.Header.Revision);
        Assert.Equal(["/registry/pods/default/p", "/restart/a"], Keys(all));
        AssertKv(all.Kvs[1], "/restart/a", "2", compactedAt - 1, compactedAt, 2);
        AssertKv(all.Kvs[0], "/registry/pods/default/p", "pod", written, written, 1);
        var history = await second.Kv.RangeAsync(new Rpc.RangeRequest { Key = B("/restart/b"), Revision = current - 1 });
        Assert.Equal("b", S(Assert.Single(history.Kvs).Value));
        await AssertRpcErrorAsync(StatusCode.OutOfRange, Compacted,
            () => second.Kv.RangeAsync(new Rpc.RangeRequest { Key = B("/restart/a"), Revision = compactedAt - 1 }).ResponseAsync);
        await AssertRpcErrorAsync(StatusCode.OutOfRange, Compacted,
            () => second.Kv.CompactAsync(new Rpc.CompactionRequest { Revision = compactedAt }).ResponseAsync);
        Assert.Equal(current + 1, (await second.Kv.PutAsync(Put("/restart/c", "c"))).Header.Revision);
        var status = await new Rpc.Maintenance.MaintenanceClient(second.Channel).StatusAsync(new Rpc.StatusRequest());
        Assert.Equal((ulong)(current + 1), status.RaftIndex);
    }
}

using System.Collections.Concurrent;
using KubeBrain.Tests.Infrastructure;
using Xunit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Behaviour;

/// <summary>
/// The real server process on its SQLite default: kill -9 during a write load loses no acknowledged write
/// (I2), a restart on the same data directory recovers every key and the revision, and the directory serves one
/// server at a time.
/// </summary>
public sealed class CrashRecoveryTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("kubebrain-crash-").FullName;

    [Fact]
    public async Task KillDuringWriteLoadLosesNoAcknowledgedWrite()
    {
        var acknowledged = new ConcurrentDictionary<string, (string Value, long Revision)>();
        await using (var server = await ServerProcess.StartAsync(_dataDir))
        {
            using var stop = new CancellationTokenSource();
            var enoughWritten = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var writers = Enumerable.Range(0, 16).Select(w => Task.Run(async () =>
            {
                for (var n = 0; !stop.IsCancellationRequested; n++)
                {
                    var key = $"/registry/crash/w{w}/k{n % 50}";
                    var value = $"{w}-{n}";
                    try
                    {
                        var put = await server.Kv.PutAsync(Etcd.Put(key, value));
                        acknowledged[key] = (value, put.Header.Revision);
                        if (acknowledged.Count >= 400)
                        {
                            enoughWritten.TrySetResult();
                        }
                    }
                    catch (Grpc.Core.RpcException)
                    {
                        return;
                    }
                }
            })).ToArray();
            await enoughWritten.Task.WaitAsync(TimeSpan.FromSeconds(60));
            await server.KillAsync();
            await stop.CancelAsync();
            await Task.WhenAll(writers);
        }

        await using var restarted = await ServerProcess.StartAsync(_dataDir);
        var all = await restarted.Kv.RangeAsync(Etcd.List("/registry/crash/"));
        var stored = all.Kvs.ToDictionary(kv => kv.Key.ToStringUtf8());
        foreach (var (key, (value, revision)) in acknowledged)
        {
            Assert.True(stored.TryGetValue(key, out var kv), $"acknowledged write to {key} at revision {revision} is missing");
            Assert.True(kv.ModRevision >= revision, $"{key} went back from revision {revision} to {kv.ModRevision}");
            if (kv.ModRevision == revision)
            {
                Assert.Equal(value, kv.Value.ToStringUtf8());
            }
        }
        Assert.True(all.Header.Revision >= acknowledged.Values.Max(a => a.Revision));
        await AssertDenseAsync(restarted.Kv, all.Header.Revision);
    }

    [Fact]
    public async Task GracefulStopAndRestartRecoverEveryKeyAndTheRevision()
    {
        long revision;
        await using (var server = await ServerProcess.StartAsync(_dataDir))
        {
            for (var i = 0; i < 20; i++)
            {
                await server.Kv.PutAsync(Etcd.Put($"/registry/restart/k{i}", $"v{i}"));
            }
            await server.Kv.DeleteRangeAsync(new Rpc.DeleteRangeRequest { Key = Etcd.Bytes("/registry/restart/k0") });
            revision = (await server.Kv.PutAsync(Etcd.Put("other", "x"))).Header.Revision;
            Assert.Equal(0, await server.TerminateAsync());
            Assert.Contains("serving etcd", server.Output, StringComparison.Ordinal);
        }

        await using var restarted = await ServerProcess.StartAsync(_dataDir);
        var keys = await restarted.Kv.RangeAsync(Etcd.List("/registry/restart/"));
        Assert.Equal(revision, keys.Header.Revision);
        Assert.Equal(19, keys.Count);
        Assert.Equal("v1", keys.Kvs[0].Value.ToStringUtf8());
        var history = await restarted.Kv.RangeAsync(new Rpc.RangeRequest { Key = Etcd.Bytes("/registry/restart/k0"), Revision = 2 });
        Assert.Equal("v0", history.Kvs.Single().Value.ToStringUtf8());
        var next = await restarted.Kv.PutAsync(Etcd.Put("other", "y"));
        Assert.Equal(revision + 1, next.Header.Revision);
    }

    /// <summary>Every revision from 2 to <paramref name="current"/> wrote something: each one changes a read of the whole keyspace.</summary>
    private static async Task AssertDenseAsync(Rpc.KV.KVClient kv, long current)
    {
        var all = new Rpc.RangeRequest { Key = Etcd.Bytes("\0"), RangeEnd = Etcd.Bytes("\0") };
        var maxModRevisions = new HashSet<long>();
        for (var r = 2; r <= current; r++)
        {
            all.Revision = r;
            var snapshot = await kv.RangeAsync(all);
            maxModRevisions.Add(snapshot.Kvs.Max(k => k.ModRevision));
        }
        Assert.Equal(current - 1, maxModRevisions.Count);
    }

    /// <summary>
    /// A second server on the data directory of a running one exits with status 1, naming the directory, before it
    /// opens the store: the first keeps its epoch, so it still writes, and its linearizable reads stay current. Once
    /// the first has been killed, a server takes the directory again.
    /// </summary>
    [Fact]
    public async Task ASecondServerOnTheDataDirectoryExitsAndTheFirstServesOn()
    {
        await using (var first = await ServerProcess.StartAsync(_dataDir))
        {
            await first.Kv.PutAsync(Etcd.Put("/held", "1"));

            var (exitCode, output) = await ServerProcess.RunToExitAsync(
                ServerRole.Silo,
                "--data-dir", _dataDir, "--listen-client-urls", $"http://127.0.0.1:{ServerProcess.Port()}",
                "--silo-port", ServerProcess.Port(), "--gateway-port", ServerProcess.Port());

            Assert.Equal(1, exitCode);
            Assert.Contains($"kubebrain: cannot lock the data directory {_dataDir}", output, StringComparison.Ordinal);
            var put = await first.Kv.PutAsync(Etcd.Put("/held", "2"));
            var read = await first.Kv.RangeAsync(Etcd.Get("/held"));
            Assert.Equal(put.Header.Revision, read.Header.Revision);
            Assert.Equal("2", read.Kvs.Single().Value.ToStringUtf8());
            await first.KillAsync();
        }

        await using var next = await ServerProcess.StartAsync(_dataDir);
        Assert.Equal("2", (await next.Kv.RangeAsync(Etcd.Get("/held"))).Kvs.Single().Value.ToStringUtf8());
    }

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);
}

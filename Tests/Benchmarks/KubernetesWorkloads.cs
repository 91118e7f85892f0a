using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Benchmarks;

/// <summary>
/// What a Kubernetes API server asks of its store, on /registry/&lt;resource&gt;/&lt;namespace&gt;/&lt;name&gt;
/// with 1–4 KiB values; the namespace carries the run's tag, so every run starts on fresh keys.
/// </summary>
public static class KubernetesWorkloads
{
    private static readonly ByteString[] Values = [.. Enumerable.Range(0, 64).Select(i =>
    {
        var bytes = new byte[1024 + (i * 3072 / 63)];
        new Random(i).NextBytes(bytes);
        return ByteString.CopyFrom(bytes);
    })];

    public static async Task<RunResult> CreateAsync(BenchRun run)
    {
        var total = run.Options.Long("--total", 10000);
        var objects = new Objects(run, "pods");
        long conflicts = 0;
        var latency = new Histogram();
        var (errors, elapsed) = await run.DriveAsync("k8s-create", total, latency, async (client, index) =>
        {
            if (!await objects.CreateAsync(client, index))
            {
                Interlocked.Increment(ref conflicts);
            }
        });
        return EtcdWorkloads.Result("k8s-create", total, errors, elapsed, latency, new() { ["created"] = total - errors - conflicts, ["conflicts"] = conflicts });
    }

    /// <summary>
    /// Loads --total objects numbered from --start (0) as /registry/pods/ns-&lt;n / --per-namespace&gt;/pod-&lt;n&gt; with
    /// --val-size (1024) byte values, each a plain put: fixed names, so that successive runs grow one key space.
    /// </summary>
    public static async Task<RunResult> LoadAsync(BenchRun run)
    {
        var o = run.Options;
        var total = o.Long("--total", 10000);
        var start = o.Long("--start", 0);
        var perNamespace = Math.Max(1, o.Long("--per-namespace", 1000));
        var value = new byte[Math.Max(0, o.Int("--val-size", 1024))];
        new Random(1).NextBytes(value);
        var bytes = ByteString.CopyFrom(value);
        var latency = new Histogram();
        var (errors, elapsed) = await run.DriveAsync("k8s-load", total, latency, (client, index) =>
        {
            var n = start + index;
            var key = string.Create(CultureInfo.InvariantCulture, $"/registry/pods/ns-{n / perNamespace:D5}/pod-{n:D8}");
            return run.Kv(client).PutAsync(new Rpc.PutRequest { Key = BenchRun.Bytes(key), Value = bytes }).ResponseAsync;
        });
        return EtcdWorkloads.Result("k8s-load", total, errors, elapsed, latency, new() { ["start"] = start, ["perNamespace"] = perNamespace });
    }

    public static async Task<RunResult> UpdateAsync(BenchRun run)
    {
        var total = run.Options.Long("--total", 10000);
        var objects = new Objects(run, "pods");
        var count = Math.Max(1, run.Options.Long("--objects", 1000));
        await objects.SeedAsync(count);
        long conflicts = 0;
        var latency = new Histogram();
        var (errors, elapsed) = await run.DriveAsync("k8s-update", total, latency, async (client, index) =>
            Interlocked.Add(ref conflicts, await objects.GuaranteedUpdateAsync(client, index % count, Values[index % Values.Length])));
        return EtcdWorkloads.Result("k8s-update", total, errors, elapsed, latency, new() { ["objects"] = count, ["conflicts"] = conflicts });
    }

    public static async Task<RunResult> DeleteAsync(BenchRun run)
    {
        var total = run.Options.Long("--total", 10000);
        var objects = new Objects(run, "pods");
        await objects.SeedAsync(total);
        long deleted = 0;
        var latency = new Histogram();
        var (errors, elapsed) = await run.DriveAsync("k8s-delete", total, latency, async (client, index) =>
        {
            if (await objects.DeleteAsync(client, index))
            {
                Interlocked.Increment(ref deleted);
            }
        });
        return EtcdWorkloads.Result("k8s-delete", total, errors, elapsed, latency, new() { ["deleted"] = deleted });
    }

    /// <summary>
    /// --total LISTs of --objects objects, in pages of --limit at the first page's revision (at most --pages pages);
    /// or counts only. With --prefix the LISTs read the keys already under that prefix, and nothing is seeded.
    /// </summary>
    public static async Task<RunResult> ListAsync(BenchRun run)
    {
        var o = run.Options;
        var total = o.Long("--total", 10);
        var limit = o.Long("--limit", 500);
        var maxPages = o.Long("--pages", long.MaxValue);
        var countOnly = o.Switch("--count-only");
        var prefix = o.Text("--prefix");
        var objects = new Objects(run, "pods", prefix);
        var count = prefix is null ? o.Long("--objects", 10000) : await objects.CountAsync(0);
        if (prefix is null)
        {
            await objects.SeedAsync(count);
        }
        long minSeen = long.MaxValue;
        long maxSeen = 0;
        long pages = 0;
        var latency = new Histogram();
        var (errors, elapsed) = await run.DriveAsync("k8s-list", total, latency, async (client, _) =>
        {
            var (seen, pageCount, _) = countOnly ? (await objects.CountAsync(client), 1, 0L) : await objects.ListAsync(client, limit, maxPages);
            Interlocked.Add(ref pages, pageCount);
            InterlockedMin(ref minSeen, seen);
            InterlockedMax(ref maxSeen, seen);
        });
        return EtcdWorkloads.Result("k8s-list", total, errors, elapsed, latency, new()
        {
            ["objects"] = count,
            ["minObjectsPerList"] = minSeen == long.MaxValue ? 0 : minSeen,
            ["maxObjectsPerList"] = maxSeen,
            ["pagesPerList"] = total - errors > 0 ? (double)pages / (total - errors) : 0,
            ["countOnly"] = countOnly ? 1 : 0,
        });
    }

    /// <summary>
    /// --watchers informers each LIST --objects objects, then WATCH from the list's revision, while --put-total
    /// updates (at --put-rate) happen from before the lists on. Requests are the events; latency is from each
    /// update's start to its event.
    /// </summary>
    public static async Task<RunResult> ListWatchAsync(BenchRun run)
    {
        var o = run.Options;
        var count = Math.Max(1, o.Long("--objects", 1000));
        var puts = o.Long("--put-total", 1000);
        var watchers = Math.Max(1, o.Int("--watchers", 1));
        var objects = new Objects(run, "pods");
        await objects.SeedAsync(count);
        var writeRevisions = new long[puts];
        var lastWrite = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var latency = new Histogram();
        var putLatency = new Histogram();
        using var stop = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        var writer = Task.Run(async () =>
        {
            var (errors, _) = await run.DriveAsync("k8s-list-watch (writes)", puts, putLatency, async (client, index) =>
            {
                var value = Values[index % Values.Length].ToByteArray();
                BinaryPrimitives.WriteInt64LittleEndian(value, Stopwatch.GetTimestamp());
                var response = await run.Kv(client).PutAsync(new Rpc.PutRequest { Key = objects.Key(index % count), Value = ByteString.CopyFrom(value) });
                writeRevisions[index] = response.Header.Revision;
            }, o.Double("--put-rate", 0));
            lastWrite.TrySetResult(writeRevisions.Max());
            return errors;
        });
        var informers = await Task.WhenAll(Enumerable.Range(0, watchers).Select(w => Task.Run(async () =>
        {
            var listStart = clock.Elapsed;
            var (_, _, revision) = await objects.ListAsync(w, 500);
            var listed = clock.Elapsed - listStart;
            long events = 0;
            long seenRevision = revision;
            TimeSpan? firstEvent = null;
            var caughtUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var watchStart = clock.Elapsed;
            var watch = await EtcdWorkloads.OpenWatchAsync(run.Watch(w), 1, objects.Prefix, BenchRun.PrefixEnd(objects.PrefixText), revision + 1, stop.Token, (_, response) =>
            {
                var now = Stopwatch.GetTimestamp();
                firstEvent ??= clock.Elapsed - watchStart;
                foreach (var e in response.Events)
                {
                    latency.Record(Stopwatch.GetElapsedTime(BinaryPrimitives.ReadInt64LittleEndian(e.Kv.Value.Span), now));
                    seenRevision = e.Kv.ModRevision;
                }
                events += response.Events.Count;
                if (lastWrite.Task.IsCompleted && seenRevision >= lastWrite.Task.Result)
                {
                    caughtUp.TrySetResult();
                }
            });
            var last = await lastWrite.Task;
            if (Volatile.Read(ref seenRevision) < last)
            {
                await Task.WhenAny(caughtUp.Task, Task.Delay(TimeSpan.FromSeconds(30)));
            }
            var done = clock.Elapsed;
            return (Watch: watch, Revision: revision, Listed: listed, FirstEvent: firstEvent, Events: events, Done: done);
        })));
        var writeErrors = await writer;
        var elapsed = informers.Max(i => i.Done);
        await EtcdWorkloads.CloseAsync(informers.Select(i => i.Watch), stop);
        var events = informers.Sum(i => i.Events);
        var expected = informers.Sum(i => writeRevisions.Count(r => r > i.Revision));
        return new RunResult
        {
            Workload = "k8s-list-watch",
            Requests = events,
            Errors = writeErrors + (expected - events),
            Seconds = elapsed.TotalSeconds,
            LatencyHistogram = latency,
            OtherHistograms = new() { ["put"] = putLatency },
            Metrics = new()
            {
                ["events"] = events,
                ["expectedEvents"] = expected,
                ["eventsPerSecond"] = events / elapsed.TotalSeconds,
                ["listMs"] = informers.Max(i => i.Listed.TotalMilliseconds),
                ["timeToFirstEventMs"] = informers.Max(i => i.FirstEvent?.TotalMilliseconds ?? 0),
            },
        };
    }

    /// <summary>
    /// --leases Lease objects (as kube-node-lease holds one per node), each renewed by GuaranteedUpdate every
    /// --interval, the renewals spread evenly over the interval, for --duration.
    /// </summary>
    public static async Task<RunResult> HeartbeatsAsync(BenchRun run)
    {
        var o = run.Options;
        var leases = Math.Max(1, o.Int("--leases", 5000));
        var interval = o.Duration("--interval", TimeSpan.FromSeconds(10));
        var duration = o.Duration("--duration", TimeSpan.FromSeconds(30));
        var objects = new Objects(run, "leases");
        await objects.SeedAsync(leases);
        var renewal = Values[0].Span[..300].ToArray();
        var schedule = Enumerable.Range(0, (int)Math.Ceiling(duration / interval) + 1)
            .SelectMany(round => Enumerable.Range(0, leases).Select(lease => (Due: (interval * round) + (interval * lease / leases), Lease: lease)))
            .Where(s => s.Due < duration)
            .ToList();
        var latency = new Histogram();
        long errors = 0;
        long conflicts = 0;
        long late = 0;
        var renewals = new List<Task>(schedule.Count);
        var clock = Stopwatch.StartNew();
        using (var progress = new ProgressBar("k8s-heartbeats", schedule.Count))
        {
            foreach (var (due, lease) in schedule)
            {
                var wait = due - clock.Elapsed;
                if (wait > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(wait);
                }
                else if (wait < -interval)
                {
                    late++;
                }
                renewals.Add(Task.Run(async () =>
                {
                    var start = Stopwatch.GetTimestamp();
                    try
                    {
                        Interlocked.Add(ref conflicts, await objects.GuaranteedUpdateAsync(lease, lease, ByteString.CopyFrom(renewal)));
                        latency.Record(Stopwatch.GetElapsedTime(start));
                    }
                    catch (RpcException)
                    {
                        Interlocked.Increment(ref errors);
                    }
                    progress.Add();
                }));
            }
            await Task.WhenAll(renewals);
        }
        var elapsed = clock.Elapsed;
        return new RunResult
        {
            Workload = "k8s-heartbeats",
            Requests = schedule.Count - errors,
            Errors = errors,
            Seconds = elapsed.TotalSeconds,
            LatencyHistogram = latency,
            Metrics = new()
            {
                ["leases"] = leases,
                ["scheduled"] = schedule.Count,
                ["renewalsPerSecond"] = (schedule.Count - errors) / elapsed.TotalSeconds,
                ["conflicts"] = conflicts,
                ["lateByAnInterval"] = late,
            },
        };
    }

    private static void InterlockedMin(ref long location, long value)
    {
        long seen;
        while (value < (seen = Interlocked.Read(ref location)) && Interlocked.CompareExchange(ref location, value, seen) != seen)
        {
        }
    }

    private static void InterlockedMax(ref long location, long value)
    {
        long seen;
        while (value > (seen = Interlocked.Read(ref location)) && Interlocked.CompareExchange(ref location, value, seen) != seen)
        {
        }
    }

    /// <summary>
    /// The objects of one resource in the run's namespace (or under <paramref name="prefix"/>), with the mod revision
    /// each was last seen at.
    /// </summary>
    private sealed class Objects(BenchRun run, string resource, string? prefix = null)
    {
        private readonly Dictionary<long, long> _seen = [];

        public string PrefixText { get; } = prefix ?? $"/registry/{resource}/bench-{run.Tag}/";

        public ByteString Prefix => BenchRun.Bytes(PrefixText);

        public ByteString Key(long index) => BenchRun.Bytes(PrefixText + "obj-" + index.ToString("D8", CultureInfo.InvariantCulture));

        /// <summary>Creates objects 0 to <paramref name="count"/> − 1, untimed.</summary>
        public async Task SeedAsync(long count)
        {
            var latency = new Histogram();
            var (errors, _) = await run.DriveAsync("seed", count, latency, async (client, index) =>
            {
                if (!await CreateAsync(client, index))
                {
                    throw new InvalidOperationException($"object {index} exists already");
                }
            }, clients: Math.Max(run.Clients, 16));
            if (errors > 0)
            {
                throw new InvalidOperationException($"{errors} of {count} objects could not be created");
            }
        }

        /// <summary>Create: put if the key does not exist (mod_revision == 0).</summary>
        public async Task<bool> CreateAsync(long client, long index)
        {
            var key = Key(index);
            var txn = new Rpc.TxnRequest();
            txn.Compare.Add(new Rpc.Compare { Key = key, Target = Rpc.Compare.Types.CompareTarget.Mod, Result = Rpc.Compare.Types.CompareResult.Equal, ModRevision = 0 });
            txn.Success.Add(new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = key, Value = Values[index % Values.Length] } });
            var response = await run.Kv(client).TxnAsync(txn);
            if (response.Succeeded)
            {
                Seen(index, response.Header.Revision);
            }
            return response.Succeeded;
        }

        /// <summary>GuaranteedUpdate: put if unchanged since last seen, else read it and try again; answers the conflicts.</summary>
        public async Task<long> GuaranteedUpdateAsync(long client, long index, ByteString value)
        {
            var key = Key(index);
            for (long conflicts = 0; ; conflicts++)
            {
                var txn = new Rpc.TxnRequest();
                txn.Compare.Add(new Rpc.Compare { Key = key, Target = Rpc.Compare.Types.CompareTarget.Mod, Result = Rpc.Compare.Types.CompareResult.Equal, ModRevision = Seen(index) });
                txn.Success.Add(new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = key, Value = value } });
                txn.Failure.Add(new Rpc.RequestOp { RequestRange = new Rpc.RangeRequest { Key = key } });
                var response = await run.Kv(client).TxnAsync(txn);
                Seen(index, response.Succeeded ? response.Header.Revision : response.Responses[0].ResponseRange.Kvs.FirstOrDefault()?.ModRevision ?? 0);
                if (response.Succeeded)
                {
                    return conflicts;
                }
            }
        }

        /// <summary>Delete if unchanged since last seen (else the failure branch reads it); answers whether it deleted.</summary>
        public async Task<bool> DeleteAsync(long client, long index)
        {
            var key = Key(index);
            var txn = new Rpc.TxnRequest();
            txn.Compare.Add(new Rpc.Compare { Key = key, Target = Rpc.Compare.Types.CompareTarget.Mod, Result = Rpc.Compare.Types.CompareResult.Equal, ModRevision = Seen(index) });
            txn.Success.Add(new Rpc.RequestOp { RequestDeleteRange = new Rpc.DeleteRangeRequest { Key = key } });
            txn.Failure.Add(new Rpc.RequestOp { RequestRange = new Rpc.RangeRequest { Key = key } });
            var response = await run.Kv(client).TxnAsync(txn);
            return response.Succeeded;
        }

        /// <summary>A paged LIST: answers the objects, the pages and the revision it was read at.</summary>
        public async Task<(long Objects, int Pages, long Revision)> ListAsync(long client, long limit, long maxPages = long.MaxValue)
        {
            var key = Prefix;
            var end = BenchRun.PrefixEnd(PrefixText);
            long revision = 0;
            long objects = 0;
            for (var pages = 1; ; pages++)
            {
                var response = await run.Kv(client).RangeAsync(new Rpc.RangeRequest { Key = key, RangeEnd = end, Limit = limit, Revision = revision });
                revision = response.Header.Revision;
                objects += response.Kvs.Count;
                if (!response.More || response.Kvs.Count == 0 || pages >= maxPages)
                {
                    return (objects, pages, revision);
                }
                key = ByteString.CopyFrom([.. response.Kvs[^1].Key.Span, 0]);
            }
        }

        public async Task<long> CountAsync(long client) =>
            (await run.Kv(client).RangeAsync(new Rpc.RangeRequest { Key = Prefix, RangeEnd = BenchRun.PrefixEnd(PrefixText), CountOnly = true })).Count;

        private long Seen(long index)
        {
            lock (_seen)
            {
                return _seen.GetValueOrDefault(index);
            }
        }

        private void Seen(long index, long revision)
        {
            lock (_seen)
            {
                _seen[index] = revision;
            }
        }
    }
}

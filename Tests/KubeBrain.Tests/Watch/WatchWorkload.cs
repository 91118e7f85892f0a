using Google.Protobuf;
using Grpc.Core;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Watch;

/// <summary>
/// A seeded random mix of writes over keys of several key ranges — <c>/registry/pods/</c>,
/// <c>/registry/services/</c> and plain keys — in the shapes clients send: puts, single and range deletes,
/// multi-key transactions (also across ranges) and the apiserver's compare-and-swap update. Every acknowledged
/// write is recorded with what it changed; a write that fails with a gRPC error has an unknown outcome.
/// </summary>
public sealed class WatchWorkload(IReadOnlyList<string> keys, IReadOnlyList<string> prefixes)
{
    /// <summary>The default keys: six pods in two namespaces, four services, five plain keys.</summary>
    public static readonly string[] MixedKeys =
    [
        .. Enumerable.Range(0, 6).Select(i => $"/registry/pods/ns{i % 2}/pod{i}"),
        .. Enumerable.Range(0, 4).Select(i => $"/registry/services/specs/ns0/svc{i}"),
        .. Enumerable.Range(0, 5).Select(i => $"/plain/k{i}"),
    ];

    /// <summary>The default range deletes: one namespace of pods, every service, every plain key.</summary>
    public static readonly string[] MixedPrefixes = ["/registry/pods/ns1/", "/registry/services/", "/plain/"];

    private readonly List<AckedWrite> _acked = [];

    public WatchWorkload()
        : this(MixedKeys, MixedPrefixes)
    {
    }
    private int _unknown;

    /// <summary>Signalled on every acknowledged write.</summary>
    public AsyncCounter Acks { get; } = new();

    public IReadOnlyList<AckedWrite> Acked
    {
        get
        {
            lock (_acked)
            {
                return [.. _acked];
            }
        }
    }

    public int Unknown => Volatile.Read(ref _unknown);

    /// <summary>Runs <paramref name="operations"/> random writes one after another.</summary>
    public async Task RunWriterAsync(Rpc.KV.KVClient kv, int seed, int writer, int operations)
    {
        var random = new Random(seed);
        for (var op = 0; op < operations; op++)
        {
            var value = $"w{writer}-{op}";
            try
            {
                var roll = random.Next(100);
                if (roll < 45)
                {
                    var key = Pick(random);
                    var response = await kv.PutAsync(new Rpc.PutRequest { Key = B(key), Value = B(value) });
                    Record(response.Header.Revision, new Dictionary<string, string> { [key] = value }, []);
                }
                else if (roll < 60)
                {
                    var key = Pick(random);
                    var response = await kv.DeleteRangeAsync(new Rpc.DeleteRangeRequest { Key = B(key) });
                    Record(response.Deleted > 0 ? response.Header.Revision : 0, [], response.Deleted > 0 ? [key] : []);
                }
                else if (roll < 65)
                {
                    var prefix = prefixes[random.Next(prefixes.Count)];
                    var response = await kv.DeleteRangeAsync(new Rpc.DeleteRangeRequest { Key = B(prefix), RangeEnd = WatchKit.PrefixEnd(prefix), PrevKv = true });
                    Record(response.Deleted > 0 ? response.Header.Revision : 0, [], [.. response.PrevKvs.Select(p => p.Key.ToStringUtf8())]);
                }
                else if (roll < 90)
                {
                    await TxnAsync(kv, random, value);
                }
                else
                {
                    await CompareAndSwapAsync(kv, Pick(random), value);
                }
            }
            catch (RpcException)
            {
                Interlocked.Increment(ref _unknown);
            }
        }
    }

    private async Task TxnAsync(Rpc.KV.KVClient kv, Random random, string value)
    {
        var chosen = keys.OrderBy(_ => random.Next()).Take(random.Next(2, 5)).ToList();
        var txn = new Rpc.TxnRequest();
        foreach (var key in chosen)
        {
            txn.Success.Add(random.Next(10) < 7
                ? new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = B(key), Value = B(value) } }
                : new Rpc.RequestOp { RequestDeleteRange = new Rpc.DeleteRangeRequest { Key = B(key) } });
        }
        var response = await kv.TxnAsync(txn);
        var puts = new Dictionary<string, string>();
        var deleted = new List<string>();
        for (var i = 0; i < chosen.Count; i++)
        {
            if (txn.Success[i].RequestPut is not null)
            {
                puts[chosen[i]] = value;
            }
            else if (response.Responses[i].ResponseDeleteRange.Deleted > 0)
            {
                deleted.Add(chosen[i]);
            }
        }
        Record(puts.Count > 0 || deleted.Count > 0 ? response.Header.Revision : 0, puts, deleted);
    }

    /// <summary>The apiserver's GuaranteedUpdate: read the key, then put only if it is unchanged since.</summary>
    private async Task CompareAndSwapAsync(Rpc.KV.KVClient kv, string key, string value)
    {
        var read = await kv.RangeAsync(new Rpc.RangeRequest { Key = B(key), Limit = 1 });
        var modRevision = read.Kvs.Count == 0 ? 0 : read.Kvs[0].ModRevision;
        var response = await kv.TxnAsync(new Rpc.TxnRequest
        {
            Compare = { new Rpc.Compare { Key = B(key), Target = Rpc.Compare.Types.CompareTarget.Mod, Result = Rpc.Compare.Types.CompareResult.Equal, ModRevision = modRevision } },
            Success = { new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = B(key), Value = B(value) } } },
            Failure = { new Rpc.RequestOp { RequestRange = new Rpc.RangeRequest { Key = B(key) } } },
        });
        Record(response.Succeeded ? response.Header.Revision : 0, response.Succeeded ? new Dictionary<string, string> { [key] = value } : [], []);
    }

    private void Record(long revision, Dictionary<string, string> puts, List<string> deletes)
    {
        if (revision != 0)
        {
            lock (_acked)
            {
                _acked.Add(new AckedWrite(revision, puts, deletes));
            }
        }
        Acks.Increment();
    }

    private string Pick(Random random) => keys[random.Next(keys.Count)];

    private static ByteString B(string text) => ByteString.CopyFromUtf8(text);
}

/// <summary>A counter a test can await without polling.</summary>
public sealed class AsyncCounter
{
    private readonly Lock _lock = new();
    private long _value;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long Value
    {
        get
        {
            lock (_lock)
            {
                return _value;
            }
        }
    }

    public void Increment()
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            _value++;
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
    }

    /// <summary>Waits until the counter reaches <paramref name="value"/>, or until <paramref name="done"/> completes.</summary>
    public async Task WaitForAsync(long value, Task done, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (_value >= value)
                {
                    return;
                }
                changed = _changed.Task;
            }
            if (done.IsCompleted)
            {
                return;
            }
            try
            {
                await Task.WhenAny(changed, done).WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                throw new TimeoutException($"the counter stayed at {Value} below {value} for {timeout.TotalSeconds:0.#} s");
            }
        }
    }
}

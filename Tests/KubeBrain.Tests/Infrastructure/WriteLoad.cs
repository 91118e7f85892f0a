using System.Collections.Concurrent;
using Grpc.Core;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Infrastructure;

/// <summary>
/// Concurrent writers that put a fresh key per attempt under <paramref name="prefix"/> (spread over three key
/// ranges), recording what was acknowledged at which revision. A put answered <c>Unavailable</c> has an unknown
/// outcome (it may have committed), so it is only recorded as attempted; the writer backs off briefly and goes on.
/// Any other error fails the writer, except once its endpoint is gone.
/// </summary>
public sealed class WriteLoad(string prefix, TimeSpan wait)
{
    private static readonly TimeSpan RetryBackoff = TimeSpan.FromMilliseconds(50);
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _progress = new(0);

    public ConcurrentQueue<(string Key, long Revision)> Acked { get; } = new();

    public ConcurrentQueue<string> Attempted { get; } = new();

    /// <summary>How many puts were answered Unavailable.</summary>
    public int Unavailable => _unavailable;

    private int _unavailable;

    public void Stop() => _stop.Cancel();

    /// <summary>Waits until at least <paramref name="count"/> puts were acknowledged in all.</summary>
    public async Task AckedAtLeastAsync(int count)
    {
        using var timeout = new CancellationTokenSource(wait);
        while (Acked.Count < count)
        {
            await _progress.WaitAsync(timeout.Token);
        }
    }

    /// <summary>Waits until at least one put was answered Unavailable.</summary>
    public async Task SawUnavailableAsync()
    {
        using var timeout = new CancellationTokenSource(wait);
        while (Volatile.Read(ref _unavailable) == 0)
        {
            await _progress.WaitAsync(timeout.Token);
        }
    }

    /// <summary>Puts through <paramref name="kv"/> until stopped or until <paramref name="gone"/> says its endpoint died.</summary>
    public async Task WriteAsync(Rpc.KV.KVClient kv, int writer, Func<bool> gone)
    {
        for (var i = 0; !_stop.IsCancellationRequested && !gone(); i++)
        {
            var key = $"{prefix}{writer % 3}/w{writer}-{i}";
            Attempted.Enqueue(key);
            try
            {
                var put = await kv.PutAsync(Etcd.Put(key, "v"), deadline: DateTime.UtcNow + wait);
                Acked.Enqueue((key, put.Header.Revision));
                _progress.Release();
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable || gone())
            {
                Interlocked.Increment(ref _unavailable);
                _progress.Release();
                await Task.Delay(RetryBackoff);
            }
        }
    }
}

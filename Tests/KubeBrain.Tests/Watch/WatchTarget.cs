using System.Globalization;
using Grpc.Core;
using Grpc.Core.Interceptors;
using KubeBrain.Silo;
using KubeBrain.Tests.Infrastructure;
using KubeBrain.Tests.Wire;
using Microsoft.Extensions.Logging;
using Xunit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Watch;

/// <summary>
/// An etcd-API endpoint for the watch tests: a KubeBrain server in the test process (with its services, to reach
/// the grains) or a real etcd 3.4, the oracle. Unary calls get a deadline; watch streams get one when opened.
/// </summary>
public sealed class WatchTarget : IAsyncDisposable
{
    /// <summary>The small request limit of the shared watch servers, so that a revision can exceed it.</summary>
    public const int SmallMaxRequestBytes = 16 * 1024;

    /// <summary>etcd cuts watch fragments at max-request-bytes plus its gRPC overhead allowance (v3rpc/watch.go).</summary>
    public const int GrpcOverheadBytes = 512 * 1024;

    /// <summary>The progress_notify interval of the shared watch servers.</summary>
    public static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(1);

    private readonly IAsyncDisposable _owner;

    private WatchTarget(string name, string endpoint, Grpc.Net.Client.GrpcChannel channel, int maxRequestBytes, IAsyncDisposable owner, KubeBrainInstance? host, LogRecorder? logs)
    {
        Logs = logs;
        Name = name;
        Endpoint = endpoint;
        MaxRequestBytes = maxRequestBytes;
        _owner = owner;
        Host = host;
        Invoker = channel.Intercept(new DeadlineInterceptor(WireTarget.CallDeadline));
        Kv = new Rpc.KV.KVClient(Invoker);
        Lease = new Rpc.Lease.LeaseClient(Invoker);
        Watch = new Rpc.Watch.WatchClient(channel);
    }

    /// <summary>"kubebrain" or "etcd".</summary>
    public string Name { get; }

    public bool IsEtcd => Name == "etcd";

    public string Endpoint { get; }

    public int MaxRequestBytes { get; }

    /// <summary>The in-process KubeBrain server; null for etcd.</summary>
    public KubeBrainInstance? Host { get; }

    /// <summary>Every log event the KubeBrain server wrote; null for etcd.</summary>
    public LogRecorder? Logs { get; }

    public CallInvoker Invoker { get; }

    public Rpc.KV.KVClient Kv { get; }

    public Rpc.Lease.LeaseClient Lease { get; }

    public Rpc.Watch.WatchClient Watch { get; }

    /// <summary>Opens a watch stream that ends (and fails its waits) after <paramref name="lifetime"/> at the latest.</summary>
    public WatchSession Open(TimeSpan? lifetime = null) => new(Watch, lifetime ?? TimeSpan.FromMinutes(2));

    public static async Task<WatchTarget> StartKubeBrainAsync(
        StorageKind storage = StorageKind.Memory, int? maxRequestBytes = null, TimeSpan? progressInterval = null, int? valueCacheMiB = null)
    {
        var logs = new LogRecorder();
        var host = await KubeBrainInstance.StartAsync(
            storage,
            configure: options => options with
            {
                MaxRequestBytes = maxRequestBytes ?? options.MaxRequestBytes,
                WatchProgressNotifyInterval = progressInterval ?? options.WatchProgressNotifyInterval,
                ValueCacheMiB = valueCacheMiB ?? options.ValueCacheMiB,
            },
            customize: builder => builder.Logging.AddProvider(logs));
        return new WatchTarget("kubebrain", host.Endpoint, host.Channel, host.Options.MaxRequestBytes, host, host, logs);
    }

    public static async Task<WatchTarget> StartEtcdAsync(int? maxRequestBytes = null, TimeSpan? progressInterval = null)
    {
        var args = new List<string>();
        if (maxRequestBytes is { } bytes)
        {
            args.Add(string.Create(CultureInfo.InvariantCulture, $"--max-request-bytes={bytes}"));
        }
        if (progressInterval is { } interval)
        {
            args.Add(string.Create(CultureInfo.InvariantCulture, $"--experimental-watch-progress-notify-interval={(long)interval.TotalMilliseconds}ms"));
        }
        var etcd = await EtcdProcess.StartAsync([.. args]);
        return new WatchTarget("etcd", etcd.Endpoint, etcd.Channel, maxRequestBytes ?? 1_572_864, etcd, null, null);
    }

    public ValueTask DisposeAsync() => _owner.DisposeAsync();

    public override string ToString() => Name;
}

/// <summary>A watch server shared by the tests of one class: small request limit, 1 s progress_notify interval.</summary>
public abstract class WatchFixture : IAsyncLifetime
{
    private WatchTarget? _target;

    public WatchTarget Target => _target ?? throw new InvalidOperationException("the fixture has not started");

    protected abstract Task<WatchTarget> StartAsync();

    public async Task InitializeAsync() => _target = await StartAsync();

    public async Task DisposeAsync()
    {
        if (_target is not null)
        {
            await _target.DisposeAsync();
        }
    }
}

public sealed class KubeBrainWatchFixture : WatchFixture
{
    protected override Task<WatchTarget> StartAsync() =>
        WatchTarget.StartKubeBrainAsync(maxRequestBytes: WatchTarget.SmallMaxRequestBytes, progressInterval: WatchTarget.ProgressInterval);
}

public sealed class EtcdWatchFixture : WatchFixture
{
    protected override Task<WatchTarget> StartAsync() =>
        WatchTarget.StartEtcdAsync(maxRequestBytes: WatchTarget.SmallMaxRequestBytes, progressInterval: WatchTarget.ProgressInterval);
}

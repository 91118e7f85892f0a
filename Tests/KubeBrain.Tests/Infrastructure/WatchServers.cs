using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Net.Client;
using KubeBrain.Silo;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Infrastructure;

/// <summary>
/// A throwaway single-node etcd 3.4 like <see cref="EtcdProcess"/>, started with extra flags (the watch tests need
/// <c>--max-request-bytes</c> and <c>--experimental-watch-progress-notify-interval</c>).
/// </summary>
public sealed class WatchEtcdProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _dataDir;

    private WatchEtcdProcess(Process process, string dataDir, string endpoint)
    {
        _process = process;
        _dataDir = dataDir;
        Endpoint = endpoint;
        Channel = GrpcChannel.ForAddress(endpoint, new GrpcChannelOptions { MaxReceiveMessageSize = null, MaxSendMessageSize = null });
    }

    public string Endpoint { get; }

    public GrpcChannel Channel { get; }

    public static async Task<WatchEtcdProcess> StartAsync(params string[] extraArgs)
    {
        var binary = Tools.Find("etcd") ?? throw new InvalidOperationException(
            "etcd is not installed: run the README test command (it installs etcd-server and etcd-client)");
        var dataDir = Directory.CreateTempSubdirectory("kubebrain-etcd-watch-").FullName;
        var clientPort = FreePort.Next();
        var peerPort = FreePort.Next();
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "--name=oracle",
            $"--data-dir={dataDir}/data",
            $"--listen-client-urls=http://127.0.0.1:{clientPort}",
            $"--advertise-client-urls=http://127.0.0.1:{clientPort}",
            $"--listen-peer-urls=http://127.0.0.1:{peerPort}",
            $"--initial-advertise-peer-urls=http://127.0.0.1:{peerPort}",
            $"--initial-cluster=oracle=http://127.0.0.1:{peerPort}",
            "--initial-cluster-state=new",
            "--logger=zap",
            "--log-outputs=stderr",
        }.Concat(extraArgs))
        {
            start.ArgumentList.Add(arg);
        }
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("ETCD", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var etcd = new WatchEtcdProcess(process, dataDir, $"http://127.0.0.1:{clientPort}");
        try
        {
            await etcd.WaitReadyAsync();
        }
        catch
        {
            await etcd.DisposeAsync();
            throw;
        }
        return etcd;
    }

    private async Task WaitReadyAsync()
    {
        var maintenance = new Rpc.Maintenance.MaintenanceClient(Channel);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                await maintenance.StatusAsync(new Rpc.StatusRequest(), deadline: DateTime.UtcNow.AddSeconds(2));
                return;
            }
            catch (Grpc.Core.RpcException) when (DateTime.UtcNow < deadline && !_process.HasExited)
            {
                await Task.Delay(100);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        Directory.Delete(_dataDir, recursive: true);
    }
}

/// <summary>
/// A KubeBrain server in the test process like <see cref="KubeBrainInstance"/>, that also exposes the host's
/// services (the Orleans <c>IGrainFactory</c>, to reach the grains) and records the server's log events.
/// </summary>
public sealed class WatchKubeBrainHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string? _ownedDataDir;

    private WatchKubeBrainHost(WebApplication app, ServerOptions options, string? ownedDataDir, WatchLogRecorder logs)
    {
        _app = app;
        _ownedDataDir = ownedDataDir;
        Options = options;
        Logs = logs;
        Endpoint = options.ListenClientUrls[0].GetLeftPart(UriPartial.Authority);
        Channel = GrpcChannel.ForAddress(Endpoint, new GrpcChannelOptions { MaxReceiveMessageSize = null, MaxSendMessageSize = null });
    }

    public ServerOptions Options { get; }

    public string Endpoint { get; }

    public GrpcChannel Channel { get; }

    /// <summary>The server's services: the Orleans grain factory, the options, the store.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>Every log event the server wrote since it started.</summary>
    public WatchLogRecorder Logs { get; }

    public static async Task<WatchKubeBrainHost> StartAsync(StorageKind storage = StorageKind.Memory, Func<ServerOptions, ServerOptions>? configure = null)
    {
        var owned = storage == StorageKind.Sqlite ? Directory.CreateTempSubdirectory("kubebrain-watch-").FullName : null;
        var options = new ServerOptions
        {
            ListenClientUrls = [new Uri($"http://127.0.0.1:{FreePort.Next()}")],
            Storage = storage,
            DataDir = owned,
            SiloPort = FreePort.Next(),
            GatewayPort = FreePort.Next(),
        };
        options = configure?.Invoke(options) ?? options;
        var app = KubeBrainServer.Build(options);
        var logs = new WatchLogRecorder();
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        await app.StartAsync();
        return new WatchKubeBrainHost(app, options, owned, logs);
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (_ownedDataDir is not null)
        {
            Directory.Delete(_ownedDataDir, recursive: true);
        }
    }
}

/// <summary>Records log events by category and event id, and lets a test await one.</summary>
public sealed class WatchLogRecorder : ILoggerProvider
{
    private readonly ConcurrentDictionary<(string Category, int EventId), int> _counts = new();
    private readonly Lock _lock = new();
    private TaskCompletionSource _logged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>How many events with this id the category <paramref name="category"/> wrote.</summary>
    public int Count(string category, int eventId) => _counts.GetValueOrDefault((category, eventId));

    /// <summary>Waits until the category has written at least <paramref name="count"/> events with this id.</summary>
    public async Task WaitForAsync(string category, int eventId, int count, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        while (true)
        {
            Task logged;
            lock (_lock)
            {
                if (Count(category, eventId) >= count)
                {
                    return;
                }
                logged = _logged.Task;
            }
            try
            {
                await logged.WaitAsync(cancel.Token);
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                throw new TimeoutException($"{category} did not log event {eventId} {count} times within {timeout} (it did {Count(category, eventId)} times)");
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Recorder(this, categoryName);

    public void Dispose()
    {
    }

    private void Record(string category, int eventId)
    {
        TaskCompletionSource logged;
        lock (_lock)
        {
            _counts.AddOrUpdate((category, eventId), 1, (_, n) => n + 1);
            logged = _logged;
            _logged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        logged.TrySetResult();
    }

    private sealed class Recorder(WatchLogRecorder owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id != 0)
            {
                owner.Record(category, eventId.Id);
            }
        }
    }
}

using System.Diagnostics;
using Grpc.Net.Client;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Infrastructure;

/// <summary>
/// A throwaway single-node etcd (Debian's etcd-server) on free loopback ports, the differential oracle. It
/// fails loudly when etcd is not installed: the test command installs it.
/// </summary>
public sealed class EtcdProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _dataDir;

    private EtcdProcess(Process process, string dataDir, string endpoint)
    {
        _process = process;
        _dataDir = dataDir;
        Endpoint = endpoint;
        Channel = GrpcChannel.ForAddress(endpoint, new GrpcChannelOptions { MaxReceiveMessageSize = null, MaxSendMessageSize = null });
        Kv = new Rpc.KV.KVClient(Channel);
    }

    public string Endpoint { get; }

    public string HostPort => Endpoint["http://".Length..];

    public GrpcChannel Channel { get; }

    public Rpc.KV.KVClient Kv { get; }

    /// <summary>Starts etcd with its defaults, plus <paramref name="extraArgs"/> (e.g. <c>--max-request-bytes=…</c>).</summary>
    public static async Task<EtcdProcess> StartAsync(params string[] extraArgs)
    {
        var binary = Tools.Find("etcd") ?? throw new InvalidOperationException(
            "etcd is not installed: run the README test command (it installs etcd-server and etcd-client)");
        var dataDir = Directory.CreateTempSubdirectory("kubebrain-etcd-").FullName;
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
        var etcd = new EtcdProcess(process, dataDir, $"http://127.0.0.1:{clientPort}");
        await etcd.WaitReadyAsync();
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

/// <summary>Finds programs on PATH.</summary>
public static class Tools
{
    public static string? Find(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
}

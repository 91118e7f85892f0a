using System.Diagnostics;
using System.Text;
using Grpc.Net.Client;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Infrastructure;

/// <summary>
/// The real server binary (the Silo project's build output) run as a child process, for what only a process
/// shows: the command line, signals, kill -9 and restart on the same data directory.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServerProcess(Process process, string endpoint)
    {
        _process = process;
        Endpoint = endpoint;
        Channel = GrpcChannel.ForAddress(endpoint);
        Kv = new Rpc.KV.KVClient(Channel);
    }

    public string Endpoint { get; }

    public GrpcChannel Channel { get; }

    public Rpc.KV.KVClient Kv { get; }

    /// <summary>Everything the process wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The server program's path, built next to this test assembly's configuration.</summary>
    public static string ServerDll
    {
        get
        {
            var testDir = new DirectoryInfo(AppContext.BaseDirectory);
            var configuration = testDir.Parent!.Name;
            var root = testDir;
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "KubeBrain.slnx")))
            {
                root = root.Parent;
            }
            return Path.Combine(root!.FullName, "Silo", "bin", configuration, testDir.Name, "kubebrain.dll");
        }
    }

    /// <summary>Runs the server with <paramref name="args"/> to completion and returns its exit code and output.</summary>
    public static Task<(int ExitCode, string Output)> RunToExitAsync(params string[] args) => RunToExitWithPostgresAsync(null, args);

    /// <summary>As <see cref="RunToExitAsync"/>, with <c>KUBEBRAIN_POSTGRES</c> set to <paramref name="postgres"/> when it is not null.</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitWithPostgresAsync(string? postgres, params string[] args)
    {
        var start = StartInfo(args);
        if (postgres is not null)
        {
            start.Environment[KubeBrain.Silo.ServerOptions.PostgresEnvironmentVariable] = postgres;
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>
    /// Starts the server with <paramref name="dataDir"/> (the SQLite store's, unless <paramref name="extraArgs"/> choose
    /// another store; null for none) and waits until it serves. The server sees the command line only, never <c>KUBEBRAIN_POSTGRES</c>.
    /// </summary>
    public static async Task<ServerProcess> StartAsync(string? dataDir, params string[] extraArgs)
    {
        var endpoint = $"http://127.0.0.1:{FreePort.Next()}";
        var args = new List<string>
        {
            "--listen-client-urls", endpoint,
            "--silo-port", FreePort.Next().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--gateway-port", FreePort.Next().ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (dataDir is not null)
        {
            args.AddRange(["--data-dir", dataDir]);
        }
        args.AddRange(extraArgs);
        var process = Process.Start(StartInfo([.. args]))!;
        var server = new ServerProcess(process, endpoint);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is null)
            {
                return;
            }
            lock (server._output)
            {
                server._output.AppendLine(e.Data);
            }
            if (e.Data.Contains("serving etcd on", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        }
        process.OutputDataReceived += OnLine;
        process.ErrorDataReceived += OnLine;
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException($"the server exited before serving:\n{server.Output}"));
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
        return server;
    }

    /// <summary>SIGKILL: the process ends at once, mid-write.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM: a graceful stop; returns the exit code.</summary>
    public async Task<int> TerminateAsync()
    {
        if (kill(_process.Id, 15) != 0)
        {
            throw new InvalidOperationException("could not signal the server");
        }
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    private static ProcessStartInfo StartInfo(string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(ServerDll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment.Remove(KubeBrain.Silo.ServerOptions.PostgresEnvironmentVariable);
        return start;
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}

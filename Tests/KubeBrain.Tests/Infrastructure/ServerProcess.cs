using System.Diagnostics;
using System.Globalization;
using System.Text;
using Grpc.Net.Client;
using KubeBrain.EtcdFrontend.Hosting;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Infrastructure;

/// <summary>Which program a <see cref="ServerProcess"/> runs.</summary>
public enum ServerRole
{
    /// <summary><c>kubebrain</c> (the Silo project): a silo, serving etcd through its co-hosted frontend unless <c>--frontend off</c>.</summary>
    Silo,

    /// <summary><c>kubebrain-frontend</c> (the EtcdFrontend project): an etcd frontend, an Orleans client of a cluster.</summary>
    Frontend,
}

/// <summary>
/// A real server program (a project's build output) run as a child process, for what only a process shows: the
/// command line, signals, kill -9, restart on the same data, and several processes forming one cluster.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly string? _endpoint;
    private GrpcChannel? _channel;

    private ServerProcess(Process process, ServerRole role, string? endpoint)
    {
        _process = process;
        Role = role;
        _endpoint = endpoint;
    }

    public ServerRole Role { get; }

    /// <summary>The client URL, http://127.0.0.1:port; only for a process that serves etcd.</summary>
    public string Endpoint => _endpoint ?? throw new InvalidOperationException("this process serves no etcd API");

    public GrpcChannel Channel => _channel ??= GrpcChannel.ForAddress(Endpoint);

    public Rpc.KV.KVClient Kv => new(Channel);

    public bool HasExited => _process.HasExited;

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

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

    /// <summary>The program's path, built next to this test assembly's configuration.</summary>
    public static string ProgramDll(ServerRole role) => role switch
    {
        ServerRole.Silo => ProgramDll("Silo", "kubebrain"),
        _ => ProgramDll("EtcdFrontend", "kubebrain-frontend"),
    };

    /// <summary>The path of <paramref name="program"/>, built by the repository's <paramref name="project"/> folder in this test assembly's configuration.</summary>
    public static string ProgramDll(string project, string program)
    {
        var testDir = new DirectoryInfo(AppContext.BaseDirectory);
        var configuration = testDir.Parent!.Name;
        var root = testDir;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "KubeBrain.slnx")))
        {
            root = root.Parent;
        }
        return Path.Combine(root!.FullName, project, "bin", configuration, testDir.Name, program + ".dll");
    }

    /// <summary>
    /// Runs a program with <paramref name="args"/> to completion and returns its exit code and output; one still running
    /// after 60 s (a server that started where it should have exited) is killed, and the wait throws with its output.
    /// </summary>
    public static Task<(int ExitCode, string Output)> RunToExitAsync(ServerRole role, params string[] args) =>
        RunToExitWithPostgresAsync(role, null, args);

    /// <summary>As <see cref="RunToExitAsync"/>, with <c>KUBEBRAIN_POSTGRES</c> set to <paramref name="postgres"/> when it is not null.</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitWithPostgresAsync(ServerRole role, string? postgres, params string[] args)
    {
        var start = StartInfo(role, args);
        if (postgres is not null)
        {
            start.Environment[FrontendCommandLine.PostgresEnvironmentVariable] = postgres;
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException timeout)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the {role} was still running after 60 s:\n{await stdout}{await stderr}", timeout);
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>
    /// Starts the single-node server with <paramref name="dataDir"/> (the SQLite store's, unless <paramref name="extraArgs"/>
    /// choose another store; null for none) and waits until it serves.
    /// </summary>
    public static Task<ServerProcess> StartAsync(string? dataDir, params string[] extraArgs) =>
        StartAsync(dataDir, new Dictionary<string, string>(), extraArgs);

    /// <summary>As <see cref="StartAsync(string?, string[])"/>, with <paramref name="environment"/>'s variables added to the process's.</summary>
    public static Task<ServerProcess> StartAsync(string? dataDir, IReadOnlyDictionary<string, string> environment, params string[] extraArgs) =>
        StartAsync(ServerRole.Silo, [.. dataDir is null ? [] : new[] { "--data-dir", dataDir }, "--silo-port", Port(), "--gateway-port", Port(), .. extraArgs], environment: environment);

    /// <summary>
    /// Starts <paramref name="role"/>'s program with <paramref name="args"/>, serving etcd on
    /// <paramref name="clientUrl"/> or a free loopback client URL unless <paramref name="servesEtcd"/> is false, and
    /// waits until it reports that it is up. Programs inherit the test's environment without <c>KUBEBRAIN_POSTGRES</c>
    /// (their store comes from the command line), with <paramref name="environment"/>'s variables added.
    /// </summary>
    public static async Task<ServerProcess> StartAsync(
        ServerRole role, IReadOnlyList<string> args, bool servesEtcd = true, string? clientUrl = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var endpoint = servesEtcd ? clientUrl ?? $"http://127.0.0.1:{Port()}" : null;
        string[] all = endpoint is null ? [.. args] : ["--listen-client-urls", endpoint, .. args];
        var start = StartInfo(role, all);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        var process = Process.Start(start)!;
        var server = new ServerProcess(process, role, endpoint);
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
            if (e.Data.StartsWith("KubeBrain ", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        }
        process.OutputDataReceived += OnLine;
        process.ErrorDataReceived += OnLine;
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException($"the {role} exited before it was up:\n{server.Output}"));
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await ready.Task.WaitAsync(TimeSpan.FromSeconds(90));
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    /// <summary>A free loopback port, as a flag value.</summary>
    public static string Port() => FreePort.Next().ToString(CultureInfo.InvariantCulture);

    /// <summary>SIGKILL: the process ends at once, mid-write.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGSTOP: the process freezes, its sockets open, as a stalled machine does.</summary>
    public void Pause() => Signal(19);

    /// <summary>SIGCONT after <see cref="Pause"/>; nothing for a process that is not paused.</summary>
    public void Resume()
    {
        if (!_process.HasExited)
        {
            Signal(18);
        }
    }

    /// <summary>SIGTERM: a graceful stop; returns the exit code.</summary>
    public async Task<int> TerminateAsync()
    {
        Signal(15);
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        _channel?.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    private static ProcessStartInfo StartInfo(ServerRole role, string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment.Remove(FrontendCommandLine.PostgresEnvironmentVariable);
        start.ArgumentList.Add(ProgramDll(role));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        return start;
    }

    private void Signal(int signal)
    {
        if (kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"could not send signal {signal} to the server");
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}

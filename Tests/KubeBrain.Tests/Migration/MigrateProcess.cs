using System.Diagnostics;
using System.Text;
using KubeBrain.Tests.Infrastructure;

namespace KubeBrain.Tests.Migration;

/// <summary>A run of <c>kubebrain-migrate</c> (the Migrate project's build output) as a child process.</summary>
public sealed class MigrateProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<(string Text, TaskCompletionSource Seen)> _waits = [];

    private MigrateProcess(Process process) => _process = process;

    /// <summary>Everything the program wrote to stdout and stderr so far.</summary>
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

    public static MigrateProcess Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(ServerProcess.ProgramDll("Migrate", "kubebrain-migrate"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        var run = new MigrateProcess(Process.Start(start)!);
        run._process.OutputDataReceived += run.OnLine;
        run._process.ErrorDataReceived += run.OnLine;
        run._process.BeginOutputReadLine();
        run._process.BeginErrorReadLine();
        return run;
    }

    /// <summary>Runs the program with <paramref name="args"/> to its end.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(params string[] args)
    {
        await using var run = Start(args);
        var exitCode = await run.WaitForExitAsync(TimeSpan.FromSeconds(60));
        return (exitCode, run.Output);
    }

    /// <summary>Waits until a line containing <paramref name="text"/> was written; fails if the program ends first.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_output)
        {
            if (_output.ToString().Contains(text, StringComparison.Ordinal))
            {
                return;
            }
            _waits.Add((text, seen));
        }
        var exited = _process.WaitForExitAsync();
        var done = await Task.WhenAny(seen.Task, exited, Task.Delay(timeout));
        if (done != seen.Task)
        {
            throw new InvalidOperationException($"kubebrain-migrate did not write '{text}' ({(done == exited ? "it exited" : "timed out")}):\n{Output}");
        }
    }

    /// <summary>Waits for the program's end and answers its exit status.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new InvalidOperationException($"kubebrain-migrate did not end within {timeout}:\n{Output}");
        }
        // The output of a process that ended is complete once the parameterless wait returns.
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, as a service manager stops the program.</summary>
    public void Terminate()
    {
        if (kill(_process.Id, 15) != 0)
        {
            throw new InvalidOperationException("could not send SIGTERM to kubebrain-migrate");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    private void OnLine(object sender, DataReceivedEventArgs e)
    {
        if (e.Data is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(e.Data);
            foreach (var wait in _waits.Where(w => e.Data.Contains(w.Text, StringComparison.Ordinal)).ToList())
            {
                wait.Seen.TrySetResult();
                _waits.Remove(wait);
            }
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}

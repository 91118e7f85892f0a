using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace KubeBrain.Tests.Infrastructure;

/// <summary>
/// A throwaway PostgreSQL cluster (Debian's postgresql) in a temporary directory, listening on a free loopback
/// port with <c>fsync</c> and <c>synchronous_commit</c> on, superuser <c>postgres</c> without a password. It can be
/// stopped and started again on the same data and port, for outage tests; disposing it removes everything.
/// PostgreSQL refuses to run as root, so under root every server program runs as the <c>postgres</c> user.
/// It fails loudly when PostgreSQL is not installed: the test command installs it.
/// </summary>
public sealed class PostgresProcess : IDisposable
{
    private readonly string _bin;
    private readonly string _directory;
    private readonly int _port;
    private Process? _watchdog;
    private bool _disposed;

    private PostgresProcess(string bin, string directory, int port)
    {
        _bin = bin;
        _directory = directory;
        _port = port;
        ConnectionString = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = port,
            Username = "postgres",
            Database = "postgres",
        }.ConnectionString;
    }

    /// <summary>The superuser's connection string to the <c>postgres</c> database.</summary>
    public string ConnectionString { get; }

    private string DataDir => Path.Combine(_directory, "data");

    private string LogFile => Path.Combine(_directory, "postgres.log");

    private static bool IsRoot => Environment.UserName == "root";

    /// <summary>Creates a cluster in a new temporary directory and starts it.</summary>
    public static PostgresProcess Start()
    {
        var bin = FindBin() ?? throw new InvalidOperationException(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres): run the README test command (it installs postgresql)");
        var directory = Directory.CreateTempSubdirectory("kubebrain-pg-").FullName;
        var postgres = new PostgresProcess(bin, directory, FreePort.Next());
        try
        {
            Directory.CreateDirectory(Path.Combine(directory, "sock"));
            if (IsRoot)
            {
                Run("chown", "-R", "postgres:postgres", directory);
            }
            postgres.RunServerProgram("initdb", "-D", postgres.DataDir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync");
            postgres.StartServer();
            postgres._watchdog = postgres.StartWatchdog();
            return postgres;
        }
        catch
        {
            postgres.Dispose();
            throw;
        }
    }

    /// <summary>Starts the server again on the same data directory and port after <see cref="StopServer"/>.</summary>
    public void StartServer()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var options = string.Join(
            ' ',
            $"-p {_port.ToString(CultureInfo.InvariantCulture)}",
            $"-k {Path.Combine(_directory, "sock")}",
            "-c listen_addresses=127.0.0.1",
            "-c fsync=on",
            "-c synchronous_commit=on",
            "-c max_connections=300");
        RunServerProgram("pg_ctl", "start", "-D", DataDir, "-l", LogFile, "-w", "-t", "60", "-o", options);
    }

    /// <summary>
    /// Stops the server. A fast stop ends every session with an administrator-shutdown error and checkpoints; an
    /// immediate one kills every server process at once, as a crash does, and the next start recovers from the WAL.
    /// </summary>
    public void StopServer(bool immediate = false) =>
        RunServerProgram("pg_ctl", "stop", "-D", DataDir, "-m", immediate ? "immediate" : "fast", "-w", "-t", "60");

    /// <summary>Creates a fresh database and returns its connection string; it goes with the cluster.</summary>
    public string CreateDatabase() => TestDatabase.Create(ConnectionString).ConnectionString;

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (File.Exists(Path.Combine(DataDir, "postmaster.pid")))
        {
            StopServer(immediate: true);
        }
        Directory.Delete(_directory, recursive: true);
        _watchdog?.Kill();
        _watchdog?.Dispose();
    }

    /// <summary>
    /// A shell that outlives this process, in a session of its own so that a signal to the test run's process group
    /// spares it, to remove the cluster once the process has ended, however it ends: the test host is killed soon
    /// after the run, before exit handlers finish.
    /// </summary>
    private Process StartWatchdog()
    {
        var stop = IsRoot ? "runuser -u postgres -- \"$1/pg_ctl\"" : "\"$1/pg_ctl\"";
        var start = new ProcessStartInfo("setsid")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "bash",
            "-c",
            $"while kill -0 \"$0\" 2>/dev/null; do sleep 1; done; {stop} stop -D \"$2/data\" -m immediate >/dev/null 2>&1; rm -rf \"$2\"",
            Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
            _bin,
            _directory,
        })
        {
            start.ArgumentList.Add(arg);
        }
        return Process.Start(start)!;
    }

    /// <summary>The newest PostgreSQL's program directory, /usr/lib/postgresql/&lt;major&gt;/bin.</summary>
    private static string? FindBin()
    {
        const string root = "/usr/lib/postgresql";
        if (!Directory.Exists(root))
        {
            return null;
        }
        return Directory.GetDirectories(root)
            .Select(dir => (Major: int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var major) ? major : -1, Bin: Path.Combine(dir, "bin")))
            .Where(v => v.Major >= 0 && File.Exists(Path.Combine(v.Bin, "postgres")) && File.Exists(Path.Combine(v.Bin, "initdb")))
            .OrderByDescending(v => v.Major)
            .Select(v => v.Bin)
            .FirstOrDefault();
    }

    /// <summary>Runs one of PostgreSQL's programs, as the postgres user when this process is root.</summary>
    private void RunServerProgram(string program, params string[] args)
    {
        var path = Path.Combine(_bin, program);
        if (IsRoot)
        {
            RunIn(_directory, "runuser", ["-u", "postgres", "--", path, .. args], LogFile);
        }
        else
        {
            RunIn(_directory, path, args, LogFile);
        }
    }

    private static void Run(string program, params string[] args) => RunIn(null, program, args, null);

    private static void RunIn(string? workingDirectory, string program, string[] args, string? logFile)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            start.WorkingDirectory = workingDirectory;
        }
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("PG", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            process.Kill(entireProcessTree: true);
        }
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            var log = logFile is not null && File.Exists(logFile) ? File.ReadAllText(logFile) : "";
            throw new InvalidOperationException(
                $"{program} {string.Join(' ', args)} exited with {process.ExitCode}:\n{stdout.Result}{stderr.Result}{log}");
        }
    }
}

/// <summary>A database of its own for one test, on a shared or private server; disposing it drops it.</summary>
public sealed class TestDatabase : IDisposable
{
    private readonly string _adminConnectionString;
    private readonly string _name;

    private TestDatabase(string adminConnectionString, string name)
    {
        _adminConnectionString = adminConnectionString;
        _name = name;
        ConnectionString = new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = name }.ConnectionString;
    }

    /// <summary>The superuser's connection string to this database.</summary>
    public string ConnectionString { get; }

    /// <summary>Creates <c>kb_&lt;guid&gt;</c> on the server of <paramref name="adminConnectionString"/>.</summary>
    public static TestDatabase Create(string adminConnectionString)
    {
        var database = new TestDatabase(adminConnectionString, $"kb_{Guid.NewGuid():N}");
        database.Execute($"CREATE DATABASE {database._name}");
        return database;
    }

    public void Dispose() => Execute($"DROP DATABASE IF EXISTS {_name} WITH (FORCE)");

    /// <summary>Runs <paramref name="sql"/> in this database and returns the first column of its rows, as text.</summary>
    public async Task<List<string>> QueryAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }
        return rows;
    }

    /// <summary>Runs <paramref name="sql"/> on a connection of its own: a pooled one may be dead after a restart.</summary>
    private void Execute(string sql)
    {
        using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_adminConnectionString) { Pooling = false }.ConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }
}

/// <summary>
/// The PostgreSQL server the tests of this run share, each in databases of its own: the server named by the
/// environment variable <c>KUBEBRAIN_TEST_POSTGRES</c> (a superuser connection string) when it is set, else a
/// <see cref="PostgresProcess"/> started on first use, which removes itself after the test process has ended. Tests that stop
/// the server start a private <see cref="PostgresProcess"/> instead.
/// </summary>
public static class SharedPostgres
{
    public const string EnvironmentVariable = "KUBEBRAIN_TEST_POSTGRES";

    private static readonly Lazy<string> AdminConnectionString = new(StartOrFind, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Creates a fresh database on the shared server.</summary>
    public static TestDatabase CreateDatabase() => TestDatabase.Create(AdminConnectionString.Value);

    private static string StartOrFind()
    {
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } external)
        {
            return external;
        }
        return PostgresProcess.Start().ConnectionString;
    }
}

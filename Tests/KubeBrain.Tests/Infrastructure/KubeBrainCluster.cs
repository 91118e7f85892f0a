using Npgsql;

namespace KubeBrain.Tests.Infrastructure;

/// <summary>
/// A KubeBrain cluster of real processes on loopback: silos (<c>--storage postgres</c>, AdoNet clustering, each
/// with its own silo and gateway ports, no etcd frontend of their own) and frontend processes, all on a fresh
/// database (of the shared test PostgreSQL unless given one). Start and kill processes by role; a process started
/// again under its name keeps its ports. Disposing stops the frontends, then the silos, and drops the database.
/// </summary>
/// <param name="database">The cluster's database, dropped with the cluster.</param>
/// <param name="processConnectionString">What the processes connect with (through a proxy, say); the database's by default.</param>
public sealed class KubeBrainCluster(TestDatabase database, string? processConnectionString = null) : IAsyncDisposable
{
    private readonly List<ServerProcess> _silos = [];
    private readonly List<ServerProcess> _frontends = [];
    private readonly Dictionary<string, (string Silo, string Gateway)> _siloPorts = [];
    private readonly Dictionary<string, string> _clientUrls = [];

    public KubeBrainCluster()
        : this(SharedPostgres.CreateDatabase())
    {
    }

    /// <summary>The connection string the processes use.</summary>
    public string ConnectionString { get; } = processConnectionString ?? database.ConnectionString;

    /// <summary>Every silo started, in start order (killed ones included).</summary>
    public IReadOnlyList<ServerProcess> Silos
    {
        get
        {
            lock (_silos)
            {
                return [.. _silos];
            }
        }
    }

    /// <summary>Every frontend started, in start order (killed ones included).</summary>
    public IReadOnlyList<ServerProcess> Frontends
    {
        get
        {
            lock (_frontends)
            {
                return [.. _frontends];
            }
        }
    }

    /// <summary>
    /// Starts a silo named <paramref name="name"/> and waits until it is up. A silo started again under a name used
    /// before (a restart) gets that silo's ports, as Orleans expects of a restarted silo: joining, it declares its
    /// earlier incarnation dead at once instead of waiting for the other silos to find it unreachable.
    /// </summary>
    public Task<ServerProcess> StartSiloAsync(string name, params string[] extraArgs)
    {
        (string Silo, string Gateway) ports;
        lock (_siloPorts)
        {
            if (!_siloPorts.TryGetValue(name, out ports))
            {
                _siloPorts[name] = ports = (ServerProcess.Port(), ServerProcess.Port());
            }
        }
        return StartAsync(
            _silos,
            ServerRole.Silo,
            [
                "--storage", "postgres", "--postgres-connection-string", ConnectionString, "--frontend", "off", "--name", name,
                "--advertise-address", "127.0.0.1", "--silo-port", ports.Silo, "--gateway-port", ports.Gateway, .. extraArgs,
            ],
            servesEtcd: false);
    }

    /// <summary>Starts a frontend named <paramref name="name"/> and waits until it serves etcd (it is connected to a silo).</summary>
    public Task<ServerProcess> StartFrontendAsync(string name, params string[] extraArgs)
    {
        string url;
        lock (_clientUrls)
        {
            if (!_clientUrls.TryGetValue(name, out url!))
            {
                _clientUrls[name] = url = $"http://127.0.0.1:{ServerProcess.Port()}";
            }
        }
        return StartAsync(
            _frontends,
            ServerRole.Frontend,
            ["--postgres-connection-string", ConnectionString, "--name", name, .. extraArgs],
            servesEtcd: true,
            url);
    }

    /// <summary>The silos the membership table lists as active.</summary>
    public async Task<int> ActiveSiloCountAsync()
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM OrleansMembershipTable WHERE Status = 3", connection);
        return (int)(long)(await command.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            foreach (var group in new[] { Frontends, Silos })
            {
                await Task.WhenAll(group.Select(StopAsync));
            }
        }
        finally
        {
            database.Dispose();
        }
    }

    /// <summary>SIGTERM, then whatever is left is killed.</summary>
    private static async Task StopAsync(ServerProcess process)
    {
        try
        {
            if (!process.HasExited)
            {
                await process.TerminateAsync();
            }
        }
        finally
        {
            await process.DisposeAsync();
        }
    }

    private static async Task<ServerProcess> StartAsync(List<ServerProcess> group, ServerRole role, string[] args, bool servesEtcd, string? clientUrl = null)
    {
        var process = await ServerProcess.StartAsync(role, args, servesEtcd, clientUrl);
        lock (group)
        {
            group.Add(process);
        }
        return process;
    }
}

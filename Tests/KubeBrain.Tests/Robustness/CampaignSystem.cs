using Grpc.Net.Client;
using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Storage;
using KubeBrain.Grains.Storage.Sqlite;
using KubeBrain.Silo;
using KubeBrain.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace KubeBrain.Tests.Robustness;

/// <summary>
/// The system a campaign runs against and the faults it can suffer. A fault is injected, lasts a while, and is
/// healed; <see cref="HealAsync"/> undoes whatever is still broken.
/// </summary>
public abstract class CampaignSystem : IAsyncDisposable
{
    /// <summary>The faults each system offers, by name.</summary>
    public static IReadOnlyList<string> Faults { get; } =
        [.. ProcessCluster.FaultNames, .. InProcessServer.FaultNames];

    /// <summary>The etcd endpoints clients use; they keep their addresses across restarts.</summary>
    public abstract IReadOnlyList<Endpoint> Endpoints { get; }

    /// <summary>Starts the system that offers <paramref name="fault"/>.</summary>
    public static async Task<CampaignSystem> StartForAsync(string fault) =>
        ProcessCluster.FaultNames.Contains(fault) ? await ProcessCluster.StartAsync() :
        InProcessServer.FaultNames.Contains(fault) ? await InProcessServer.StartAsync() :
        throw new ArgumentException($"unknown fault '{fault}'; known: {string.Join(", ", Faults)}", nameof(fault));

    /// <summary>Injects <paramref name="fault"/> once, keeps it for a while, and heals it.</summary>
    public abstract Task InjectAsync(string fault, Random random, CancellationToken cancellationToken);

    /// <summary>Brings back everything a fault left broken.</summary>
    public abstract Task HealAsync();

    /// <summary>What a fault met on its way that is not a finding of the checks (the campaign prints them).</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Notes { get; } = new();

    /// <summary>The output of every server process started, killed ones included, by a name that says which start it was.</summary>
    public virtual IEnumerable<(string Name, string Output)> ProcessOutputs => [];

    public abstract ValueTask DisposeAsync();

    protected static Task HoldAsync(Random random, int minMilliseconds, int maxMilliseconds, CancellationToken cancellationToken) =>
        Task.Delay(random.Next(minMilliseconds, maxMilliseconds), cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
}

/// <summary>
/// The production shape: two silos and two frontend processes on a private PostgreSQL, reached through a TCP proxy
/// that can cut every connection to the database.
/// </summary>
public sealed class ProcessCluster : CampaignSystem
{
    public static readonly string[] FaultNames = ["kill-silo", "kill-frontend", "pause-silo", "restart-postgres", "cut-postgres"];

    private static readonly string[] SiloNames = ["silo-a", "silo-b"];
    private static readonly string[] FrontendNames = ["fe-a", "fe-b"];
    private static readonly TimeSpan PastMembershipTimeout = TimeSpan.FromSeconds(20);

    private readonly PostgresProcess _postgres;
    private readonly TcpProxy _proxy;
    private readonly KubeBrainCluster _cluster;
    private readonly Dictionary<string, ServerProcess> _silos = [];
    private readonly Dictionary<string, ServerProcess> _frontends = [];
    private readonly List<Endpoint> _endpoints = [];
    private readonly List<(string Name, ServerProcess Process)> _started = [];
    private bool _postgresStopped;

    private ProcessCluster(PostgresProcess postgres, TcpProxy proxy, KubeBrainCluster cluster)
    {
        _postgres = postgres;
        _proxy = proxy;
        _cluster = cluster;
    }

    public override IReadOnlyList<Endpoint> Endpoints => _endpoints;

    public static async Task<ProcessCluster> StartAsync()
    {
        var postgres = PostgresProcess.Start();
        var database = TestDatabase.Create(postgres.ConnectionString);
        var direct = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        var proxy = new TcpProxy(direct.Host!, direct.Port);
        var routed = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Port = proxy.Port }.ConnectionString;
        var system = new ProcessCluster(postgres, proxy, new KubeBrainCluster(database, routed));
        try
        {
            await Task.WhenAll(SiloNames.Select(system.StartSiloAsync));
            await Task.WhenAll(FrontendNames.Select(system.StartFrontendAsync));
        }
        catch
        {
            await system.DisposeAsync();
            throw;
        }
        system._endpoints.AddRange(FrontendNames.Select(name => new Endpoint(name, GrpcChannel.ForAddress(system._frontends[name].Endpoint))));
        return system;
    }

    public override async Task InjectAsync(string fault, Random random, CancellationToken cancellationToken)
    {
        switch (fault)
        {
            case "kill-silo":
                var silo = SiloNames[random.Next(SiloNames.Length)];
                await _silos[silo].KillAsync();
                await HoldAsync(random, 500, 3000, cancellationToken);
                await StartSiloAsync(silo);
                break;
            case "kill-frontend":
                var frontend = FrontendNames[random.Next(FrontendNames.Length)];
                await _frontends[frontend].KillAsync();
                await HoldAsync(random, 500, 3000, cancellationToken);
                await StartFrontendAsync(frontend);
                break;
            case "pause-silo":
                var paused = _silos[SiloNames[random.Next(SiloNames.Length)]];
                paused.Pause();
                await Task.Delay(PastMembershipTimeout, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
                paused.Resume();
                break;
            case "restart-postgres":
                _postgresStopped = true;
                _postgres.StopServer(immediate: random.Next(2) == 0);
                await HoldAsync(random, 200, 2000, cancellationToken);
                _postgres.StartServer();
                _postgresStopped = false;
                break;
            case "cut-postgres":
                _proxy.CutClients();
                break;
            default:
                throw new ArgumentException($"the process cluster has no fault '{fault}'", nameof(fault));
        }
    }

    public override async Task HealAsync()
    {
        foreach (var silo in _silos.Values)
        {
            silo.Resume();
        }
        if (_postgresStopped)
        {
            _postgres.StartServer();
            _postgresStopped = false;
        }
        foreach (var name in SiloNames.Where(name => _silos[name].HasExited))
        {
            await StartSiloAsync(name);
        }
        foreach (var name in FrontendNames.Where(name => _frontends[name].HasExited))
        {
            await StartFrontendAsync(name);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        foreach (var silo in _silos.Values)
        {
            silo.Resume();
        }
        _endpoints.ForEach(e => e.Channel.Dispose());
        await _cluster.DisposeAsync();
        await _proxy.DisposeAsync();
        _postgres.Dispose();
    }

    public override IEnumerable<(string Name, string Output)> ProcessOutputs
    {
        get
        {
            lock (_started)
            {
                return [.. _started.Select((p, i) => ($"{i:D2}-{p.Name}", p.Process.Output))];
            }
        }
    }

    private async Task StartSiloAsync(string name) => Started(_silos, name, await _cluster.StartSiloAsync(name));

    private async Task StartFrontendAsync(string name) => Started(_frontends, name, await _cluster.StartFrontendAsync(name));

    /// <summary>Records a started process (processes start concurrently).</summary>
    private void Started(Dictionary<string, ServerProcess> role, string name, ServerProcess process)
    {
        lock (_started)
        {
            role[name] = process;
            _started.Add((name, process));
        }
    }
}

/// <summary>
/// One server in the test process on SQLite, whose store runs faults around every append and whose grains the
/// campaign deactivates through the Orleans management API. Its key ranges keep no values in memory, so every
/// value a request needs is read back from the store (the process clusters keep the default budget).
/// </summary>
public sealed class InProcessServer : CampaignSystem
{
    public static readonly string[] FaultNames = ["deactivate-grains", "store-faults"];

    private readonly KubeBrainInstance _host;
    private readonly GatedStore _store;
    private readonly string _dataDir;

    private InProcessServer(KubeBrainInstance host, GatedStore store, string dataDir)
    {
        _host = host;
        _store = store;
        _dataDir = dataDir;
        Endpoints = [new Endpoint("server", host.Channel)];
    }

    public override IReadOnlyList<Endpoint> Endpoints { get; }

    public static async Task<InProcessServer> StartAsync()
    {
        var dataDir = Directory.CreateTempSubdirectory("kubebrain-campaign-").FullName;
        var store = new GatedStore(new SqliteMvccStore(Path.Combine(dataDir, KubeBrainServer.DatabaseFile)));
        var host = await KubeBrainInstance.StartAsync(
            StorageKind.Sqlite, dataDir, configure: o => o with { ValueCacheMiB = 0 }, customize: builder => builder.Services.AddSingleton<IMvccStore>(_ => store));
        return new InProcessServer(host, store, dataDir);
    }

    public override async Task InjectAsync(string fault, Random random, CancellationToken cancellationToken)
    {
        switch (fault)
        {
            case "deactivate-grains":
                var management = _host.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);
                if (random.Next(2) == 0)
                {
                    var sequencer = _host.Services.GetRequiredService<IGrainFactory>().GetGrain<IRevisionSequencerGrain>(0);
                    try
                    {
                        await management.DeactivateGrain(sequencer.GetGrainId(), CancellationToken.None);
                    }
                    catch (TimeoutException)
                    {
                        // Slow, not wrong: whether the system still answers and stays correct is what the checks decide.
                        Notes.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} the sequencer's deactivation was not done within the management call's timeout");
                    }
                }
                else
                {
                    await management.ForceActivationCollection(TimeSpan.Zero);
                }
                break;
            case "store-faults":
                var faults = new Random(random.Next());
                _store.BeforeAppend = _ => BeforeAppendAsync(faults);
                _store.AfterAppend = _ => HoldAsync(faults, 0, 30, CancellationToken.None);
                await HoldAsync(random, 500, 2000, cancellationToken);
                _store.BeforeAppend = null;
                _store.AfterAppend = null;
                break;
            default:
                throw new ArgumentException($"the in-process server has no fault '{fault}'", nameof(fault));
        }
    }

    public override Task HealAsync()
    {
        _store.BeforeAppend = null;
        _store.AfterAppend = null;
        return Task.CompletedTask;
    }

    public override async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        Directory.Delete(_dataDir, recursive: true);
    }

    /// <summary>A delay of up to 30 ms, and one append in five refused before it reaches the store (appends run one at a time).</summary>
    private static async Task BeforeAppendAsync(Random faults)
    {
        await Task.Delay(faults.Next(30));
        if (faults.Next(5) == 0)
        {
            throw new StoreUnavailableException("injected: the storage refused the batch", null);
        }
    }
}

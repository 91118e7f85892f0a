using System.Globalization;
using System.Net;
using KubeBrain.EtcdFrontend.Hosting;
using KubeBrain.Grains.KeyRange;
using KubeBrain.Grains.Storage.Postgres;
using Npgsql;

namespace KubeBrain.Silo;

/// <summary>Which <c>IMvccStore</c> holds the data.</summary>
public enum StorageKind
{
    Sqlite,
    Memory,
    Postgres,
}

/// <summary>The server's command line: the frontend flags of the co-hosted frontend, and the silo's own.</summary>
public sealed record ServerOptions : FrontendCommandLine
{
    /// <summary>The flags, their defaults and meaning, as <c>--help</c> prints them.</summary>
    public const string Usage = """
        Usage: kubebrain [flags]

        Serves the etcd v3 API (KV, Watch, Lease, Maintenance.Status, Cluster.MemberList, grpc.health.v1) from an Orleans silo.
        """ + "\n\n" + FlagsUsage + "\n" + """
          --data-dir DIR                     where the SQLite store lives          [<name>.kubebrain]
          --storage sqlite|memory|postgres   storage backend; postgres joins the cluster whose membership
                                             table is in the same database         [sqlite]
          --postgres-pool-size N             most connections to PostgreSQL        [20]
          --value-cache-mb N                 MiB of values each key range keeps in memory; the others
                                             are read from the store when needed (not with memory)  [64]
          --silo-port N                      Orleans silo-to-silo port             [11111]
          --gateway-port N                   Orleans client gateway port           [30000]
          --advertise-address IP             the silo's address for other silos and clients
                                             [loopback on sqlite and memory; else the first non-loopback IPv4]
          --frontend on|off                  serve the etcd API from this silo too [on]
          --enable-dashboard                 serve the Orleans dashboard at /dashboard/ on the metrics
                                             URLs (needs --listen-metrics-urls)    [false]
          --help                             print this text
        """;

    public string? DataDir { get; init; }

    public StorageKind Storage { get; init; } = StorageKind.Sqlite;

    public int PostgresPoolSize { get; init; } = PostgresStoreOptions.DefaultMaxPoolSize;

    /// <summary>MiB of committed values each key range keeps in memory.</summary>
    public int ValueCacheMiB { get; init; } = (int)(KeyRangeOptions.DefaultValueCacheBytes >> 20);

    /// <summary>
    /// The key ranges' value budget in bytes: <see cref="ValueCacheMiB"/>, or everything on the memory store, which
    /// holds every value anyway.
    /// </summary>
    public long ValueCacheBytes => Storage == StorageKind.Memory ? long.MaxValue : (long)ValueCacheMiB << 20;

    public int SiloPort { get; init; } = 11111;

    public int GatewayPort { get; init; } = 30000;

    public IPAddress? AdvertiseAddress { get; init; }

    /// <summary>Whether the silo co-hosts an etcd frontend; a cluster's silos may leave that to frontend processes.</summary>
    public bool Frontend { get; init; } = true;

    /// <summary>Whether the silo serves the Orleans dashboard on the metrics listeners.</summary>
    public bool EnableDashboard { get; init; }

    /// <summary>The data directory: <c>--data-dir</c>, else <c>&lt;name&gt;.kubebrain</c> as etcd's <c>&lt;name&gt;.etcd</c>.</summary>
    public string EffectiveDataDir => DataDir ?? $"{Name}.kubebrain";

    /// <summary>Where the data lives, for the start-up line; a PostgreSQL store is named without its credentials.</summary>
    public string DescribeStorage()
    {
        switch (Storage)
        {
            case StorageKind.Sqlite:
                return $"sqlite in {Path.GetFullPath(EffectiveDataDir)}";
            case StorageKind.Postgres:
                var postgres = new NpgsqlConnectionStringBuilder(PostgresConnectionString);
                return $"postgres at {postgres.Host}:{postgres.Port.ToString(CultureInfo.InvariantCulture)}/{postgres.Database ?? postgres.Username}";
            default:
                return "memory";
        }
    }

    protected override FrontendCommandLine? With(string flag, Func<string> value) => flag switch
    {
        "--data-dir" => this with { DataDir = NonEmpty(flag, value()) },
        "--storage" => this with { Storage = StorageOf(flag, value()) },
        "--postgres-pool-size" => this with { PostgresPoolSize = Positive(flag, value()) },
        "--value-cache-mb" => this with { ValueCacheMiB = NonNegative(flag, value()) },
        "--silo-port" => this with { SiloPort = Port(flag, value()) },
        "--gateway-port" => this with { GatewayPort = Port(flag, value()) },
        "--advertise-address" => this with { AdvertiseAddress = Address(flag, value()) },
        "--frontend" => this with { Frontend = OnOff(flag, value()) },
        "--enable-dashboard" => this with { EnableDashboard = Bool(flag, value()) },
        _ => base.With(flag, value),
    };

    protected override bool IsSwitch(string flag) => flag == "--enable-dashboard" || base.IsSwitch(flag);

    protected override void Check()
    {
        base.Check();
        if (EnableDashboard && ListenMetricsUrls.Count == 0)
        {
            throw new ArgumentException("--enable-dashboard needs --listen-metrics-urls: the dashboard is served on the metrics URLs");
        }
        if (Storage == StorageKind.Postgres)
        {
            RequirePostgresConnectionString("--storage postgres");
        }
    }

    private static StorageKind StorageOf(string flag, string value) => value switch
    {
        "sqlite" => StorageKind.Sqlite,
        "memory" => StorageKind.Memory,
        "postgres" => StorageKind.Postgres,
        _ => throw new ArgumentException($"{flag}: '{value}' is not one of sqlite, memory, postgres"),
    };

    private static bool OnOff(string flag, string value) => value switch
    {
        "on" => true,
        "off" => false,
        _ => throw new ArgumentException($"{flag}: '{value}' is not one of on, off"),
    };

    private static IPAddress Address(string flag, string value) =>
        IPAddress.TryParse(value, out var address) ? address : throw new ArgumentException($"{flag}: '{value}' is not an IP address");
}

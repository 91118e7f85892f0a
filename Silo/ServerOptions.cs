using System.Net;
using KubeBrain.EtcdFrontend.Hosting;

namespace KubeBrain.Silo;

/// <summary>Which <c>IMvccStore</c> holds the data.</summary>
public enum StorageKind
{
    Sqlite,
    Memory,
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
          --storage sqlite|memory            storage backend                       [sqlite]
          --silo-port N                      Orleans silo-to-silo port             [11111]
          --gateway-port N                   Orleans client gateway port           [30000]
          --advertise-address IP             the silo's address for other silos and clients
                                             [loopback on localhost clustering; else the first non-loopback IPv4]
          --frontend on|off                  serve the etcd API from this silo too [on]
          --help                             print this text
        """;

    public string? DataDir { get; init; }

    public StorageKind Storage { get; init; } = StorageKind.Sqlite;

    public int SiloPort { get; init; } = 11111;

    public int GatewayPort { get; init; } = 30000;

    public IPAddress? AdvertiseAddress { get; init; }

    /// <summary>Whether the silo co-hosts an etcd frontend; a cluster's silos may leave that to frontend processes.</summary>
    public bool Frontend { get; init; } = true;

    /// <summary>The data directory: <c>--data-dir</c>, else <c>&lt;name&gt;.kubebrain</c> as etcd's <c>&lt;name&gt;.etcd</c>.</summary>
    public string EffectiveDataDir => DataDir ?? $"{Name}.kubebrain";

    protected override FrontendCommandLine? With(string flag, Func<string> value) => flag switch
    {
        "--data-dir" => this with { DataDir = NonEmpty(flag, value()) },
        "--storage" => this with { Storage = StorageOf(flag, value()) },
        "--silo-port" => this with { SiloPort = Port(flag, value()) },
        "--gateway-port" => this with { GatewayPort = Port(flag, value()) },
        "--advertise-address" => this with { AdvertiseAddress = Address(flag, value()) },
        "--frontend" => this with { Frontend = OnOff(flag, value()) },
        _ => base.With(flag, value),
    };

    private static StorageKind StorageOf(string flag, string value) => value switch
    {
        "sqlite" => StorageKind.Sqlite,
        "memory" => StorageKind.Memory,
        _ => throw new ArgumentException($"{flag}: '{value}' is not one of sqlite, memory"),
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

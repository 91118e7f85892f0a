using System.Globalization;
using KubeBrain.EtcdFrontend;
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

/// <summary>The server's command line, with etcd's flag names where etcd has one.</summary>
public sealed record ServerOptions
{
    public IReadOnlyList<Uri> ListenClientUrls { get; init; } = [new("http://127.0.0.1:2379")];

    public IReadOnlyList<Uri>? AdvertiseClientUrls { get; init; }

    public string Name { get; init; } = "default";

    public string? DataDir { get; init; }

    public StorageKind Storage { get; init; } = StorageKind.Sqlite;

    /// <summary>The environment variable that supplies <see cref="PostgresConnectionString"/> when the flag is absent.</summary>
    public const string PostgresEnvironmentVariable = "KUBEBRAIN_POSTGRES";

    /// <summary>The Npgsql connection string of the PostgreSQL store (<c>--storage postgres</c>).</summary>
    public string? PostgresConnectionString { get; init; }

    public int PostgresPoolSize { get; init; } = PostgresStoreOptions.DefaultMaxPoolSize;

    public int MaxRequestBytes { get; init; } = EtcdFrontendOptions.DefaultMaxRequestBytes;

    public int MaxTxnOps { get; init; } = EtcdFrontendOptions.DefaultMaxTxnOps;

    public string EmulatedEtcdVersion { get; init; } = "3.6.0";

    public TimeSpan WatchProgressNotifyInterval { get; init; } = TimeSpan.FromMinutes(10);

    public int SiloPort { get; init; } = 11111;

    public int GatewayPort { get; init; } = 30000;

    /// <summary>The data directory: <c>--data-dir</c>, else <c>&lt;name&gt;.kubebrain</c> as etcd's <c>&lt;name&gt;.etcd</c>.</summary>
    public string EffectiveDataDir => DataDir ?? $"{Name}.kubebrain";

    public IReadOnlyList<Uri> EffectiveAdvertiseClientUrls => AdvertiseClientUrls ?? ListenClientUrls;

    /// <summary>The flags, their defaults and meaning, as <c>--help</c> prints them.</summary>
    public const string Usage = """
        Usage: kubebrain [flags]

        Serves the etcd v3 API (KV, Watch, Lease, Maintenance.Status, Cluster.MemberList, grpc.health.v1) from an Orleans silo.

          --listen-client-urls URL[,URL]     URLs to serve clients on (http only)  [http://127.0.0.1:2379]
          --advertise-client-urls URL[,URL]  client URLs reported by MemberList    [the listen URLs]
          --name NAME                        member name                           [default]
          --data-dir DIR                     where the SQLite store lives          [<name>.kubebrain]
          --storage sqlite|memory|postgres   storage backend                       [sqlite]
          --postgres-connection-string CS    Npgsql connection string of the PostgreSQL store
                                             (Host=…;Port=…;Username=…;Password=…;Database=…)
                                                                                   [$KUBEBRAIN_POSTGRES]
          --postgres-pool-size N             most connections to PostgreSQL        [20]
          --max-request-bytes N              largest write request in bytes        [1572864]
          --max-txn-ops N                    most operations per txn branch        [128]
          --emulated-etcd-version X.Y.Z      version reported by Status            [3.6.0]
          --experimental-watch-progress-notify-interval DURATION
                                             progress_notify period, e.g. 10m, 5s  [10m]
          --silo-port N                      Orleans silo-to-silo port             [11111]
          --gateway-port N                   Orleans client gateway port           [30000]
          --help                             print this text
        """;

    /// <summary>Parses <c>--flag value</c> and <c>--flag=value</c>; throws <see cref="ArgumentException"/> naming the bad flag.</summary>
    public static ServerOptions Parse(IReadOnlyList<string> args)
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(PostgresEnvironmentVariable);
        var options = new ServerOptions { PostgresConnectionString = string.IsNullOrEmpty(fromEnvironment) ? null : fromEnvironment };
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"unexpected argument '{arg}'");
            }
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            var name = eq < 0 ? arg : arg[..eq];
            string Value()
            {
                if (eq >= 0)
                {
                    return arg[(eq + 1)..];
                }
                if (i + 1 >= args.Count)
                {
                    throw new ArgumentException($"flag {name} needs a value");
                }
                return args[++i];
            }
            options = name switch
            {
                "--listen-client-urls" => options with { ListenClientUrls = Urls(name, Value()) },
                "--advertise-client-urls" => options with { AdvertiseClientUrls = Urls(name, Value()) },
                "--name" => options with { Name = NonEmpty(name, Value()) },
                "--data-dir" => options with { DataDir = NonEmpty(name, Value()) },
                "--storage" => options with { Storage = StorageOf(name, Value()) },
                "--postgres-connection-string" => options with { PostgresConnectionString = ConnectionString(name, Value()) },
                "--postgres-pool-size" => options with { PostgresPoolSize = Positive(name, Value()) },
                "--max-request-bytes" => options with { MaxRequestBytes = Positive(name, Value()) },
                "--max-txn-ops" => options with { MaxTxnOps = Positive(name, Value()) },
                "--emulated-etcd-version" => options with { EmulatedEtcdVersion = Version(name, Value()) },
                "--experimental-watch-progress-notify-interval" => options with { WatchProgressNotifyInterval = Duration(name, Value()) },
                "--silo-port" => options with { SiloPort = Port(name, Value()) },
                "--gateway-port" => options with { GatewayPort = Port(name, Value()) },
                _ => throw new ArgumentException($"unknown flag {name}"),
            };
        }
        if (options.Storage == StorageKind.Postgres)
        {
            if (options.PostgresConnectionString is null)
            {
                throw new ArgumentException($"--storage postgres needs --postgres-connection-string or the environment variable {PostgresEnvironmentVariable}");
            }
            if (ReferenceEquals(options.PostgresConnectionString, fromEnvironment))
            {
                _ = ConnectionString(PostgresEnvironmentVariable, fromEnvironment);
            }
        }
        return options;
    }

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

    private static IReadOnlyList<Uri> Urls(string flag, string value)
    {
        var urls = new List<Uri>();
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(part, UriKind.Absolute, out var url) || url.Scheme != "http" || url.IsDefaultPort || url.AbsolutePath != "/")
            {
                throw new ArgumentException($"{flag}: '{part}' is not an http://host:port URL");
            }
            urls.Add(url);
        }
        return urls.Count > 0 ? urls : throw new ArgumentException($"{flag} needs at least one URL");
    }

    private static string NonEmpty(string flag, string value) =>
        value.Length > 0 ? value : throw new ArgumentException($"{flag} must not be empty");

    private static StorageKind StorageOf(string flag, string value) => value switch
    {
        "sqlite" => StorageKind.Sqlite,
        "memory" => StorageKind.Memory,
        "postgres" => StorageKind.Postgres,
        _ => throw new ArgumentException($"{flag}: '{value}' is not one of sqlite, memory, postgres"),
    };

    /// <summary>Checks the syntax only; the message names the flag but never repeats the value, which may hold a password.</summary>
    private static string ConnectionString(string flag, string value)
    {
        try
        {
            _ = new NpgsqlConnectionStringBuilder(value);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{flag} is not a valid connection string: {e.Message}");
        }
        return NonEmpty(flag, value);
    }

    private static int Positive(string flag, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{flag}: '{value}' is not a positive integer");

    private static int Port(string flag, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is > 0 and < 65536
            ? n
            : throw new ArgumentException($"{flag}: '{value}' is not a port number");

    /// <summary>A Go-style duration: one or more number-unit pairs with units h, m, s, ms (e.g. 10m, 1m30s, 500ms).</summary>
    private static TimeSpan Duration(string flag, string value)
    {
        var total = TimeSpan.Zero;
        var rest = value.AsSpan();
        while (!rest.IsEmpty)
        {
            var digits = 0;
            while (digits < rest.Length && char.IsAsciiDigit(rest[digits]))
            {
                digits++;
            }
            var unit = digits;
            while (unit < rest.Length && char.IsAsciiLetter(rest[unit]))
            {
                unit++;
            }
            if (digits == 0 || !long.TryParse(rest[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
            {
                throw new ArgumentException($"{flag}: '{value}' is not a duration like 10m or 500ms");
            }
            total += rest[digits..unit] switch
            {
                "h" => TimeSpan.FromHours(amount),
                "m" => TimeSpan.FromMinutes(amount),
                "s" => TimeSpan.FromSeconds(amount),
                "ms" => TimeSpan.FromMilliseconds(amount),
                _ => throw new ArgumentException($"{flag}: '{value}' is not a duration like 10m or 500ms"),
            };
            rest = rest[unit..];
        }
        return total > TimeSpan.Zero ? total : throw new ArgumentException($"{flag}: '{value}' is not a positive duration");
    }

    private static string Version(string flag, string value)
    {
        var parts = value.Split('.');
        return parts.Length == 3 && parts.All(p => p.Length > 0 && p.All(char.IsAsciiDigit))
            ? value
            : throw new ArgumentException($"{flag}: '{value}' is not a version like 3.6.0");
    }
}

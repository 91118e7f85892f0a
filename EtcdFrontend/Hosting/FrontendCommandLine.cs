using System.Globalization;
using Npgsql;
using Orleans.Configuration;

namespace KubeBrain.EtcdFrontend.Hosting;

/// <summary>
/// The flags of an etcd frontend, with etcd's names where etcd has one, and the one parser for them: the frontend
/// process takes these, and the server (a silo that co-hosts a frontend unless told not to) derives its options
/// from them and adds its own flags by overriding <see cref="With"/>.
/// </summary>
public record FrontendCommandLine
{
    /// <summary>The Orleans cluster and service id when no flag names one.</summary>
    public const string DefaultClusterId = "kubebrain";

    /// <summary>The environment variable that supplies the PostgreSQL connection string when no flag does.</summary>
    public const string PostgresEnvironmentVariable = "KUBEBRAIN_POSTGRES";

    /// <summary>The flags of this record as <c>--help</c> prints them, one per line, indented.</summary>
    public const string FlagsUsage = """
          --listen-client-urls URL[,URL]     URLs to serve clients on: http (h2c) or https (TLS, needs
                                             --cert-file and --key-file)           [http://127.0.0.1:2379]
          --advertise-client-urls URL[,URL]  client URLs reported by MemberList    [the listen URLs]
          --cert-file FILE                   PEM server certificate for the https URLs (and the chain
                                             after it, if any)
          --key-file FILE                    PEM private key of --cert-file
          --trusted-ca-file FILE             PEM CA bundle that client certificates are verified against;
                                             naming it requires a client certificate on the https URLs
                                             whatever --client-cert-auth says, as in etcd
          --client-cert-auth[=true|false]    require a client certificate signed by --trusted-ca-file on
                                             the https URLs                        [false]
          --listen-metrics-urls URL[,URL]    URLs for /metrics (http, own ports)   [none]
          --name NAME                        member name (unique per frontend)     [default]
          --cluster-id ID                    Orleans cluster id                    [kubebrain]
          --service-id ID                    Orleans service id                    [kubebrain]
          --postgres-connection-string CS    Npgsql connection string of the database that holds the store
                                             and the membership table
                                             (Host=…;Port=…;Username=…;Password=…;Database=…)
                                                                                   [$KUBEBRAIN_POSTGRES]
          --max-request-bytes N              largest write request in bytes        [1572864]
          --max-txn-ops N                    most operations per txn branch        [128]
          --emulated-etcd-version X.Y.Z      version reported by Status            [3.6.0]
          --experimental-watch-progress-notify-interval DURATION
                                             progress_notify period, e.g. 10m, 5s  [10m]
          --memory-trim-interval DURATION    how often to look whether the process has gone quiet, and
                                             then give the memory the GC holds unused back to the
                                             operating system; 0 never does        [5s]
        """;


    public IReadOnlyList<Uri> ListenClientUrls { get; init; } = [new("http://127.0.0.1:2379")];

    public IReadOnlyList<Uri>? AdvertiseClientUrls { get; init; }

    /// <summary>Where Prometheus scrapes <c>/metrics</c>; empty (the default) serves no metrics and listens nowhere more.</summary>
    public IReadOnlyList<Uri> ListenMetricsUrls { get; init; } = [];

    public string Name { get; init; } = "default";

    public string ClusterId { get; init; } = DefaultClusterId;

    public string ServiceId { get; init; } = DefaultClusterId;

    /// <summary>
    /// The Npgsql connection string of the database that holds the store and the Orleans membership table: the
    /// flag's, else <see cref="PostgresEnvironmentVariable"/>'s (checked by <see cref="RequirePostgresConnectionString"/>).
    /// </summary>
    public string? PostgresConnectionString { get; init; } = FromEnvironment;

    public int MaxRequestBytes { get; init; } = EtcdFrontendOptions.DefaultMaxRequestBytes;

    public int MaxTxnOps { get; init; } = EtcdFrontendOptions.DefaultMaxTxnOps;

    public string EmulatedEtcdVersion { get; init; } = "3.6.0";

    public TimeSpan WatchProgressNotifyInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>The period of <see cref="IdleMemoryTrim"/>; zero turns it off.</summary>
    public TimeSpan MemoryTrimInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The PEM server certificate of the https client URLs, possibly followed by its chain.</summary>
    public string? CertFile { get; init; }

    /// <summary>The PEM private key of <see cref="CertFile"/>.</summary>
    public string? KeyFile { get; init; }

    /// <summary>
    /// The PEM CA bundle that client certificates are verified against (it alone, no system roots). As in etcd,
    /// naming it requires a client certificate on the https URLs, whatever <see cref="ClientCertAuth"/> says.
    /// </summary>
    public string? TrustedCaFile { get; init; }

    /// <summary>Whether the https URLs require a client certificate signed by <see cref="TrustedCaFile"/>.</summary>
    public bool ClientCertAuth { get; init; }

    public IReadOnlyList<Uri> EffectiveAdvertiseClientUrls => AdvertiseClientUrls ?? ListenClientUrls;

    /// <summary>
    /// Runs a program on this command line: prints <paramref name="usage"/> for <c>--help</c>; for a bad flag
    /// prints a message naming it and answers exit status 2; otherwise parses <paramref name="args"/> over
    /// <paramref name="defaults"/>, prints the garbage collector's settings in force (<see cref="RuntimeSettings"/>),
    /// runs <paramref name="serve"/> and answers 0, or, when it fails (a client URL's port taken, the data directory
    /// locked by another server), ends with one line of the failure's messages on stderr and answers 1, as etcd does.
    /// </summary>
    public static async Task<int> RunAsync<T>(IReadOnlyList<string> args, string program, string usage, T defaults, Func<T, Task> serve)
        where T : FrontendCommandLine
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(usage);
            return 0;
        }
        T options;
        try
        {
            options = Parse(args, defaults);
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync($"{program}: {e.Message}");
            await Console.Error.WriteLineAsync("Run with --help for the list of flags.");
            return 2;
        }
        Console.WriteLine(RuntimeSettings.Describe());
        try
        {
            await serve(options);
        }
        catch (Exception e)
        {
            if (e is not IOException)
            {
                // An I/O failure (a port taken, a data directory locked or not writable) says it all in its message;
                // anything else is printed whole, for a report.
                await Console.Error.WriteLineAsync(e.ToString());
            }
            await Console.Error.WriteLineAsync($"{program}: {Messages(e)}");
            return 1;
        }
        return 0;
    }

    /// <summary>The messages of <paramref name="e"/> and of its inner exceptions, each one that adds something.</summary>
    private static string Messages(Exception e)
    {
        var text = e.Message;
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (!text.Contains(inner.Message, StringComparison.OrdinalIgnoreCase))
            {
                text += $" ({inner.Message})";
            }
        }
        return text;
    }

    /// <summary>
    /// Parses <c>--flag value</c> and <c>--flag=value</c> over <paramref name="defaults"/>, then checks the whole;
    /// throws <see cref="ArgumentException"/> naming the bad flag.
    /// </summary>
    private static T Parse<T>(IReadOnlyList<string> args, T defaults)
        where T : FrontendCommandLine
    {
        var options = defaults;
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
                if (options.IsSwitch(name))
                {
                    return "true";
                }
                if (i + 1 >= args.Count)
                {
                    throw new ArgumentException($"flag {name} needs a value");
                }
                return args[++i];
            }
            options = (T)(options.With(name, Value) ?? throw new ArgumentException($"unknown flag {name}"));
        }
        options.Check();
        return options;
    }

    /// <summary>The frontend's settings from these flags.</summary>
    public void ApplyTo(EtcdFrontendOptions frontend)
    {
        frontend.Name = Name;
        frontend.AdvertiseClientUrls = [.. EffectiveAdvertiseClientUrls.Select(u => u.GetLeftPart(UriPartial.Authority))];
        frontend.MaxRequestBytes = MaxRequestBytes;
        frontend.MaxTxnOps = MaxTxnOps;
        frontend.EmulatedEtcdVersion = EmulatedEtcdVersion;
        frontend.WatchProgressNotifyInterval = WatchProgressNotifyInterval;
    }

    /// <summary>The Orleans cluster identity from these flags.</summary>
    public void ApplyTo(ClusterOptions cluster)
    {
        cluster.ClusterId = ClusterId;
        cluster.ServiceId = ServiceId;
    }

    /// <summary>These options with <paramref name="flag"/> set from its value; null when the flag is not one of theirs.</summary>
    protected virtual FrontendCommandLine? With(string flag, Func<string> value) => flag switch
    {
        "--listen-client-urls" => this with { ListenClientUrls = Urls(flag, value()) },
        "--advertise-client-urls" => this with { AdvertiseClientUrls = Urls(flag, value()) },
        "--listen-metrics-urls" => this with { ListenMetricsUrls = Urls(flag, value(), tls: false) },
        "--name" => this with { Name = NonEmpty(flag, value()) },
        "--cluster-id" => this with { ClusterId = NonEmpty(flag, value()) },
        "--service-id" => this with { ServiceId = NonEmpty(flag, value()) },
        "--postgres-connection-string" => this with { PostgresConnectionString = ConnectionString(flag, value()) },
        "--max-request-bytes" => this with { MaxRequestBytes = Positive(flag, value()) },
        "--max-txn-ops" => this with { MaxTxnOps = Positive(flag, value()) },
        "--emulated-etcd-version" => this with { EmulatedEtcdVersion = Version(flag, value()) },
        "--experimental-watch-progress-notify-interval" => this with { WatchProgressNotifyInterval = Duration(flag, value()) },
        "--memory-trim-interval" => this with { MemoryTrimInterval = DurationOrZero(flag, value()) },
        "--cert-file" => this with { CertFile = NonEmpty(flag, value()) },
        "--key-file" => this with { KeyFile = NonEmpty(flag, value()) },
        "--trusted-ca-file" => this with { TrustedCaFile = NonEmpty(flag, value()) },
        "--client-cert-auth" => this with { ClientCertAuth = Bool(flag, value()) },
        _ => null,
    };

    /// <summary>
    /// Whether <paramref name="flag"/> is a boolean that may stand alone (<c>--flag</c> for <c>--flag=true</c>), as
    /// in Go; such a flag takes a value only after <c>=</c>.
    /// </summary>
    protected virtual bool IsSwitch(string flag) => flag == "--client-cert-auth";

    /// <summary>
    /// Checks the flags together once all are parsed, and reads the TLS files; throws <see cref="ArgumentException"/>
    /// naming a bad one. An override checks these first. The metrics listeners need ports of their own: a request
    /// is told apart from a client's by the port it came in on.
    /// </summary>
    protected virtual void Check()
    {
        _ = ClientTls.Load(this);
        var clientPorts = ListenClientUrls.Select(u => u.Port).ToHashSet();
        if (ListenMetricsUrls.FirstOrDefault(u => clientPorts.Contains(u.Port)) is { } shared)
        {
            throw new ArgumentException($"--listen-metrics-urls: '{shared}' uses the port of a client URL");
        }
    }

    /// <summary>
    /// Refuses options without a PostgreSQL connection string, naming <paramref name="user"/> that needs one, and
    /// one from the environment that is not a connection string (the flag's is checked as it is parsed).
    /// </summary>
    protected void RequirePostgresConnectionString(string user)
    {
        if (PostgresConnectionString is null)
        {
            throw new ArgumentException($"{user} needs --postgres-connection-string or the environment variable {PostgresEnvironmentVariable}");
        }
        if (PostgresConnectionString == FromEnvironment)
        {
            _ = ConnectionString(PostgresEnvironmentVariable, PostgresConnectionString);
        }
    }

    protected static string NonEmpty(string flag, string value) =>
        value.Length > 0 ? value : throw new ArgumentException($"{flag} must not be empty");

    protected static int Port(string flag, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is > 0 and < 65536
            ? n
            : throw new ArgumentException($"{flag}: '{value}' is not a port number");

    /// <summary>A boolean flag's value, in Go's spellings (1, t, true, 0, f, false, …).</summary>
    protected static bool Bool(string flag, string value) => value switch
    {
        "1" or "t" or "T" or "TRUE" or "true" or "True" => true,
        "0" or "f" or "F" or "FALSE" or "false" or "False" => false,
        _ => throw new ArgumentException($"{flag}: '{value}' is not true or false"),
    };

    protected static int Positive(string flag, string value) => AtLeast(1, flag, value, "a positive integer");

    protected static int NonNegative(string flag, string value) => AtLeast(0, flag, value, "a non-negative integer");

    private static int AtLeast(int least, string flag, string value, string what) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= least
            ? n
            : throw new ArgumentException($"{flag}: '{value}' is not {what}");

    private static string? FromEnvironment =>
        Environment.GetEnvironmentVariable(PostgresEnvironmentVariable) is { Length: > 0 } value ? value : null;

    /// <summary>Checks the syntax only; the message names the source but never repeats the value, which may hold a password.</summary>
    private static string ConnectionString(string source, string value)
    {
        try
        {
            _ = new NpgsqlConnectionStringBuilder(value);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{source} is not a valid connection string: {e.Message}");
        }
        return NonEmpty(source, value);
    }

    /// <summary>Comma-separated http (and, with <paramref name="tls"/>, https) URLs with an explicit port and no path.</summary>
    private static IReadOnlyList<Uri> Urls(string flag, string value, bool tls = true)
    {
        var urls = new List<Uri>();
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(part, UriKind.Absolute, out var url) || !(url.Scheme == "http" || (tls && url.Scheme == "https")) || url.IsDefaultPort || url.AbsolutePath != "/")
            {
                throw new ArgumentException($"{flag}: '{part}' is not an http://host:port{(tls ? " or https://host:port" : "")} URL");
            }
            urls.Add(url);
        }
        return urls.Count > 0 ? urls : throw new ArgumentException($"{flag} needs at least one URL");
    }

    /// <summary>A positive <see cref="DurationOrZero"/>.</summary>
    private static TimeSpan Duration(string flag, string value) =>
        DurationOrZero(flag, value) is var duration && duration > TimeSpan.Zero
            ? duration
            : throw new ArgumentException($"{flag}: '{value}' is not a positive duration");

    /// <summary>
    /// A Go-style duration: one or more number-unit pairs with units h, m, s, ms (e.g. 10m, 1m30s, 500ms), or 0
    /// without a unit.
    /// </summary>
    private static TimeSpan DurationOrZero(string flag, string value)
    {
        if (value == "0")
        {
            return TimeSpan.Zero;
        }
        var total = TimeSpan.Zero;
        var rest = value.AsSpan();
        if (rest.IsEmpty)
        {
            throw new ArgumentException($"{flag}: '{value}' is not a duration like 10m or 500ms");
        }
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
        return total;
    }

    /// <summary>A version as three dot-separated numbers (3.6.0).</summary>
    private static string Version(string flag, string value)
    {
        var parts = value.Split('.');
        return parts.Length == 3 && parts.All(p => p.Length > 0 && p.All(char.IsAsciiDigit))
            ? value
            : throw new ArgumentException($"{flag}: '{value}' is not a version like 3.6.0");
    }
}

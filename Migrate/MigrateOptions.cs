using System.Globalization;

namespace KubeBrain.Migrate;

/// <summary>Which way a run copies. The two commands share every step; they differ in direction and in names.</summary>
internal enum Direction
{
    /// <summary><c>migrate</c>: from etcd into KubeBrain.</summary>
    Migrate,

    /// <summary><c>export</c>: from KubeBrain into etcd.</summary>
    Export,
}

/// <summary>The TLS files for one side; all null for an http:// endpoint.</summary>
internal sealed record TlsFiles(string? CaCert, string? Cert, string? Key);

/// <summary>The command line: the command, both endpoints, the key range, the cut-over key and TLS files.</summary>
internal sealed record MigrateOptions
{
    public const string DefaultCutoverName = "kubebrain-migrate-cutover";

    /// <summary>The commands and flags, as <c>--help</c> prints them.</summary>
    public const string Usage = """
        Usage: kubebrain-migrate migrate --from ETCD_URL --to KUBEBRAIN_URL [flags]
               kubebrain-migrate export --from KUBEBRAIN_URL --to ETCD_URL [flags]

        migrate copies every key and lease of an etcd into an empty KubeBrain, then applies the etcd's changes
        as they happen, until the cut-over key is put on the etcd. export does the same from KubeBrain into an
        empty etcd. Revisions are not preserved: the target assigns its own (docs/migration.md).

        Flags:
          --from URL              the source's client URL, http:// or https://          [required]
          --to URL                the target's client URL, http:// or https://          [required]
          --prefix PREFIX         copy only keys that start with PREFIX, e.g. /registry  [every key]
          --cutover-key KEY       a put of KEY on the source ends the run, once every
                                  change before it is on the target; KEY is not copied
                                  and must start with PREFIX     [PREFIX/kubebrain-migrate-cutover]
          --advance-limit N       at the cut-over, write the target until its revision
                                  passes the source's (so clients' old resourceVersions
                                  are all in its past), if that takes at most N writes;
                                  0: never                                      [1000000]
          --from-cacert FILE      CA bundle (PEM) that verifies the source's certificate
          --from-cert FILE        client certificate (PEM) for the source
          --from-key FILE         the client certificate's key (PEM)
          --to-cacert FILE        as --from-cacert, for the target
          --to-cert FILE          as --from-cert, for the target
          --to-key FILE           as --from-key, for the target
          --help                  print this text

        Progress goes to stderr. Ctrl-C or SIGTERM stops the run before the cut-over (exit status 130 or 143).
        Exit status: 0 cut over, 1 an endpoint failed or refused a request, 2 a bad command line.
        """;

    public Direction Direction { get; init; }

    public Uri? From { get; init; }

    public Uri? To { get; init; }

    /// <summary>The copied keys' common start; empty for every key.</summary>
    public string Prefix { get; init; } = "";

    public string? CutoverKey { get; init; }

    public TlsFiles FromTls { get; init; } = new(null, null, null);

    public TlsFiles ToTls { get; init; } = new(null, null, null);

    /// <summary>The most writes spent taking the target's revision past the source's at the cut-over.</summary>
    public long AdvanceLimit { get; init; } = 1_000_000;

    /// <summary>The cut-over key: the flag's, else <see cref="DefaultCutoverName"/> under the prefix.</summary>
    public string EffectiveCutoverKey =>
        CutoverKey ?? Prefix + (Prefix.EndsWith('/') ? "" : "/") + DefaultCutoverName;

    /// <summary>
    /// Parses <c>COMMAND --flag value</c> and <c>--flag=value</c>, then checks the whole; throws
    /// <see cref="ArgumentException"/> naming the bad command or flag.
    /// </summary>
    public static MigrateOptions Parse(IReadOnlyList<string> args)
    {
        if (args.Count == 0)
        {
            throw new ArgumentException("no command: migrate or export");
        }
        var options = new MigrateOptions
        {
            Direction = args[0] switch
            {
                "migrate" => Direction.Migrate,
                "export" => Direction.Export,
                _ => throw new ArgumentException($"unknown command '{args[0]}': migrate or export"),
            },
        };
        for (var i = 1; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"unexpected argument '{arg}'");
            }
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            var name = eq < 0 ? arg : arg[..eq];
            string value;
            if (eq >= 0)
            {
                value = arg[(eq + 1)..];
            }
            else if (i + 1 < args.Count)
            {
                value = args[++i];
            }
            else
            {
                throw new ArgumentException($"flag {name} needs a value");
            }
            options = options.With(name, value);
        }
        options.Check();
        return options;
    }

    private MigrateOptions With(string flag, string value) => flag switch
    {
        "--from" => this with { From = Url(flag, value) },
        "--to" => this with { To = Url(flag, value) },
        "--prefix" => this with { Prefix = value },
        "--advance-limit" => this with { AdvanceLimit = long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) ? limit : throw new ArgumentException($"{flag}: '{value}' is not a whole number") },
        "--cutover-key" => this with { CutoverKey = value.Length > 0 ? value : throw new ArgumentException($"{flag} must not be empty") },
        "--from-cacert" => this with { FromTls = FromTls with { CaCert = File(flag, value) } },
        "--from-cert" => this with { FromTls = FromTls with { Cert = File(flag, value) } },
        "--from-key" => this with { FromTls = FromTls with { Key = File(flag, value) } },
        "--to-cacert" => this with { ToTls = ToTls with { CaCert = File(flag, value) } },
        "--to-cert" => this with { ToTls = ToTls with { Cert = File(flag, value) } },
        "--to-key" => this with { ToTls = ToTls with { Key = File(flag, value) } },
        _ => throw new ArgumentException($"unknown flag {flag}"),
    };

    private void Check()
    {
        CheckSide("--from", From, FromTls);
        CheckSide("--to", To, ToTls);
        if (!EffectiveCutoverKey.StartsWith(Prefix, StringComparison.Ordinal))
        {
            throw new ArgumentException($"--cutover-key: '{EffectiveCutoverKey}' does not start with --prefix '{Prefix}'");
        }
    }

    private static void CheckSide(string flag, Uri? url, TlsFiles tls)
    {
        if (url is null)
        {
            throw new ArgumentException($"{flag} is required");
        }
        if (url.Scheme != Uri.UriSchemeHttps && (tls.CaCert ?? tls.Cert ?? tls.Key) is not null)
        {
            throw new ArgumentException($"{flag}-cacert, {flag}-cert and {flag}-key need an https:// {flag} URL");
        }
        if ((tls.Cert is null) != (tls.Key is null))
        {
            throw new ArgumentException($"{flag}-cert and {flag}-key go together");
        }
    }

    private static Uri Url(string flag, string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var url)
        && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps)
        && url.AbsolutePath == "/" && url.Query.Length == 0
            ? url
            : throw new ArgumentException($"{flag}: '{value}' is not an http://host:port or https://host:port URL");

    private static string File(string flag, string value) =>
        System.IO.File.Exists(value) ? value : throw new ArgumentException($"{flag}: no file '{value}'");
}

using System.Globalization;
using Microsoft.Data.Sqlite;

namespace KubeBrain.Grains.Storage.Sqlite;

/// <summary>
/// Applies the schema migrations embedded under <c>Storage/Sqlite/Migrations/NNNN_name.sql</c> in version order.
/// Each runs in its own transaction together with its row in <c>schema_migrations</c>, so a migration is either
/// applied and recorded or neither.
/// </summary>
internal static class SqliteMigrations
{
    private const string ResourceMarker = ".Storage.Sqlite.Migrations.";

    public static void Apply(SqliteConnection connection)
    {
        SqliteCommands.Execute(
            connection,
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    INTEGER NOT NULL PRIMARY KEY,
                name       TEXT    NOT NULL,
                applied_at TEXT    NOT NULL
            ) STRICT
            """);
        foreach (var (version, name, resource) in Embedded())
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            using var applied = SqliteCommands.Create(connection, "SELECT COUNT(*) FROM schema_migrations WHERE version = @version", "@version");
            applied.Transaction = transaction;
            applied.Parameters[0].Value = version;
            if ((long)applied.ExecuteScalar()! != 0)
            {
                continue;
            }
            using (var script = connection.CreateCommand())
            {
                script.Transaction = transaction;
                script.CommandText = ReadScript(resource);
                script.ExecuteNonQuery();
            }
            using (var record = SqliteCommands.Create(
                connection,
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@version, @name, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                "@version",
                "@name"))
            {
                record.Transaction = transaction;
                record.Parameters[0].Value = version;
                record.Parameters[1].Value = name;
                record.ExecuteNonQuery();
            }
            transaction.Commit();
        }
    }

    /// <summary>The embedded migrations as (version, file name without extension, resource name), ascending.</summary>
    private static List<(int Version, string Name, string Resource)> Embedded()
    {
        var migrations = new List<(int Version, string Name, string Resource)>();
        foreach (var resource in typeof(SqliteMigrations).Assembly.GetManifestResourceNames())
        {
            var marker = resource.IndexOf(ResourceMarker, StringComparison.Ordinal);
            if (marker < 0 || !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }
            var name = resource[(marker + ResourceMarker.Length)..^".sql".Length];
            var separator = name.IndexOf('_', StringComparison.Ordinal);
            if (separator <= 0 || !int.TryParse(name.AsSpan(0, separator), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                throw new InvalidOperationException($"The migration {resource} is not named NNNN_name.sql.");
            }
            migrations.Add((version, name, resource));
        }
        if (migrations.Count == 0)
        {
            throw new InvalidOperationException("No schema migrations are embedded in the assembly.");
        }
        migrations.Sort((x, y) => x.Version.CompareTo(y.Version));
        for (var i = 1; i < migrations.Count; i++)
        {
            if (migrations[i].Version == migrations[i - 1].Version)
            {
                throw new InvalidOperationException($"Two migrations share version {migrations[i].Version}.");
            }
        }
        return migrations;
    }

    private static string ReadScript(string resource)
    {
        using var stream = typeof(SqliteMigrations).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The migration {resource} cannot be read.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}

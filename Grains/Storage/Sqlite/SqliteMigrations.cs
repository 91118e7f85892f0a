using Microsoft.Data.Sqlite;

namespace KubeBrain.Grains.Storage.Sqlite;

/// <summary>
/// Applies the schema migrations embedded under <c>Storage/Sqlite/Migrations/NNNN_name.sql</c> in version order.
/// Each runs in its own transaction together with its row in <c>schema_migrations</c>, so a migration is either
/// applied and recorded or neither.
/// </summary>
internal static class SqliteMigrations
{
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
        foreach (var migration in EmbeddedMigrations.Of("Sqlite"))
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            using var applied = SqliteCommands.Create(connection, "SELECT COUNT(*) FROM schema_migrations WHERE version = @version", "@version");
            applied.Transaction = transaction;
            applied.Parameters[0].Value = migration.Version;
            if ((long)applied.ExecuteScalar()! != 0)
            {
                continue;
            }
            using (var script = connection.CreateCommand())
            {
                script.Transaction = transaction;
                script.CommandText = migration.Script;
                script.ExecuteNonQuery();
            }
            using (var record = SqliteCommands.Create(
                connection,
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@version, @name, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                "@version",
                "@name"))
            {
                record.Transaction = transaction;
                record.Parameters[0].Value = migration.Version;
                record.Parameters[1].Value = migration.Name;
                record.ExecuteNonQuery();
            }
            transaction.Commit();
        }
    }
}

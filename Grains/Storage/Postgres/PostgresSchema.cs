using Npgsql;

namespace KubeBrain.Grains.Storage.Postgres;

/// <summary>
/// Applies the schema migrations embedded under <c>Storage/Postgres/Migrations/NNNN_name.sql</c> that a database
/// has not had yet, in version order, each recorded in <c>schema_migrations</c>. Every migration runs in one
/// transaction that first takes a transaction-scoped advisory lock, so processes starting at once against one
/// database apply each migration exactly once and the losers of the race find it recorded.
/// </summary>
public static class PostgresSchema
{
    /// <summary>The advisory lock key that serializes migrations ("KBSCHEMA").</summary>
    private const long MigrationLock = 0x4B42_5343_4845_4D41;

    /// <summary>Brings the database named by <paramref name="connectionString"/> to the newest schema.</summary>
    /// <returns>The names of the migrations this call applied, in order; empty when the schema was current.</returns>
    public static async Task<IReadOnlyList<string>> MigrateAsync(string connectionString, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var applied = new List<string>();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        foreach (var migration in EmbeddedMigrations.Of("Postgres"))
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using (var prepare = new NpgsqlCommand(
                $"""
                SELECT pg_advisory_xact_lock({MigrationLock});
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer     PRIMARY KEY,
                    name       text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                );
                """,
                connection,
                transaction))
            {
                await prepare.ExecuteNonQueryAsync(cancellationToken);
            }
            await using (var check = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", connection, transaction))
            {
                check.Parameters.Add(new NpgsqlParameter<int> { TypedValue = migration.Version });
                if ((bool)(await check.ExecuteScalarAsync(cancellationToken))!)
                {
                    continue;
                }
            }
            await using (var script = new NpgsqlCommand(migration.Script, connection, transaction))
            {
                await script.ExecuteNonQueryAsync(cancellationToken);
            }
            await using (var record = new NpgsqlCommand("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", connection, transaction))
            {
                record.Parameters.Add(new NpgsqlParameter<int> { TypedValue = migration.Version });
                record.Parameters.Add(new NpgsqlParameter<string> { TypedValue = migration.Name });
                await record.ExecuteNonQueryAsync(cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
            applied.Add(migration.Name);
        }
        return applied;
    }
}

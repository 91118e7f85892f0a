using KubeBrain.Grains.Storage.Postgres;

namespace KubeBrain.Silo;

/// <summary>
/// Brings the PostgreSQL schema (the store's tables and the Orleans membership table) up to date before the silo
/// starts: registered ahead of the silo, so it runs first.
/// </summary>
internal sealed class SchemaMigration(string connectionString) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => PostgresSchema.MigrateAsync(connectionString, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

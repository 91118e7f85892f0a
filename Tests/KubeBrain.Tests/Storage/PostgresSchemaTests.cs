using KubeBrain.Grains.Storage.Postgres;
using KubeBrain.Tests.Infrastructure;
using Xunit;

namespace KubeBrain.Tests.Storage;

public sealed class PostgresSchemaTests : IDisposable
{
    private static readonly string[] Migrations = ["0001_initial", "0002_orleans_clustering", "0003_index_log_by_key_group", "0004_keep_rows_inline"];

    private readonly TestDatabase _database = SharedPostgres.CreateDatabase();

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task MigrationsAreAppliedOnceAndRecorded()
    {
        Assert.Equal(Migrations, await PostgresSchema.MigrateAsync(_database.ConnectionString, CancellationToken.None));
        Assert.Empty(await PostgresSchema.MigrateAsync(_database.ConnectionString, CancellationToken.None));

        Assert.Equal(["1 0001_initial", "2 0002_orleans_clustering", "3 0003_index_log_by_key_group", "4 0004_keep_rows_inline"], await _database.QueryAsync("SELECT version || ' ' || name FROM schema_migrations ORDER BY version"));
        Assert.Equal(
            ["kv_log", "leases", "meta", "orleansmembershiptable", "orleansmembershipversiontable", "orleansquery", "range_owner", "schema_migrations"],
            await _database.QueryAsync("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"));
        Assert.Equal(
            ["1 1 0 0 0"],
            await _database.QueryAsync("SELECT concat_ws(' ', id, current_revision, compact_revision, sequencer_epoch, last_batch_id) FROM meta"));
    }

    [Fact]
    public async Task MigratorsStartingAtOnceApplyEachMigrationExactlyOnce()
    {
        var migrators = Enumerable.Range(0, 4)
            .Select(_ => Task.Run(() => PostgresSchema.MigrateAsync(_database.ConnectionString, CancellationToken.None)))
            .ToList();

        var applied = await Task.WhenAll(migrators);

        Assert.Equal(Migrations, applied.SelectMany(names => names).Order(StringComparer.Ordinal));
        Assert.Equal([$"{Migrations.Length}"], await _database.QueryAsync("SELECT count(*)::text FROM schema_migrations"));
        Assert.Equal(["1"], await _database.QueryAsync("SELECT count(*)::text FROM meta"));
    }
}

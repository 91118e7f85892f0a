using KubeBrain.Grains.Storage;
using KubeBrain.Grains.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Xunit;

namespace KubeBrain.Tests.Storage;

public sealed class SqliteMvccStoreTests : PersistentMvccStoreConformanceTests
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kubebrain-tests", Guid.NewGuid().ToString("N"));

    private string DatabasePath => Path.Combine(_directory, "kv.db");

    protected override IMvccStore CreateStore() => new SqliteMvccStore(DatabasePath);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task OpenCreatesMissingDirectories()
    {
        var path = Path.Combine(_directory, "nested", "deeper", "kv.db");
        await using var store = new SqliteMvccStore(path);

        var opened = await store.OpenAsync(LeaseDuration, None);

        Assert.Equal(new StoreMetadata(1, 0, 1), opened);
        Assert.True(File.Exists(path));
    }

    [Fact]
    public async Task SchemaIsMigratedOnceAndTheFileIsInWalMode()
    {
        await ReopenAsync();

        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        await connection.OpenAsync();
        Assert.Equal(["1 0001_initial"], await QueryAsync(connection, "SELECT version || ' ' || name FROM schema_migrations"));
        Assert.Equal(["wal"], await QueryAsync(connection, "PRAGMA journal_mode"));
        Assert.Equal(
            ["kv_log", "leases", "meta", "range_owner", "schema_migrations"],
            await QueryAsync(connection, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"));
    }

    [Fact]
    public async Task KeysAndValuesAreStoredAsBlobs()
    {
        Log.Revision().Put("/text-like", "value").Put([0x00, 0xFF], []).Revision().Delete("/text-like");
        await AppendLogAsync();

        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        await connection.OpenAsync();
        Assert.Equal(
            ["blob blob", "blob blob", "blob blob"],
            await QueryAsync(connection, "SELECT typeof(key) || ' ' || typeof(value) FROM kv_log ORDER BY revision, sub"));
    }

    private static async Task<List<string>> QueryAsync(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }
        return rows;
    }
}

using KubeBrain.Grains.Storage;
using KubeBrain.Grains.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Xunit;

namespace KubeBrain.Tests.Storage;

public sealed class SqliteMvccStoreTests : PersistentMvccStoreConformanceTests
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kubebrain-tests", Guid.NewGuid().ToString("N"));

    /// <summary>
    /// The log's only index is its primary key (revision, sub): an append then writes at the end of the table and of
    /// that index only. An index on keys would take a page write per row at a random place.
    /// </summary>
    private const string IndexesOfTheLog = "SELECT tbl_name || ' ' || name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'kv_log' ORDER BY name";

    private const string KeyOfTheLog = "sqlite_autoindex_kv_log_1";

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
        Assert.Equal(
            ["1 0001_initial", "2 0002_drop_key_index"],
            await QueryAsync(connection, "SELECT version || ' ' || name FROM schema_migrations ORDER BY version"));
        Assert.Equal(["wal"], await QueryAsync(connection, "PRAGMA journal_mode"));
        Assert.Equal(
            ["kv_log", "leases", "meta", "range_owner", "schema_migrations"],
            await QueryAsync(connection, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"));
        Assert.Equal([$"kv_log {KeyOfTheLog}"], await QueryAsync(connection, IndexesOfTheLog));
    }

    [Fact]
    public async Task ADatabaseWithTheKeyIndexLosesItAndKeepsItsHistory()
    {
        await WriteRandomHistoryAsync(seed: 5, revisions: 20);
        var before = await ReadEverythingFromAsync(0);
        await using (var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False"))
        {
            await connection.OpenAsync();
            await QueryAsync(connection, "CREATE INDEX kv_log_key_revision ON kv_log (key, revision)");
            await QueryAsync(connection, "DELETE FROM schema_migrations WHERE version = 2");
            Assert.Contains("kv_log kv_log_key_revision", await QueryAsync(connection, IndexesOfTheLog));
        }

        await ReopenAsync();

        await using (var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False"))
        {
            await connection.OpenAsync();
            Assert.Equal([$"kv_log {KeyOfTheLog}"], await QueryAsync(connection, IndexesOfTheLog));
        }
        Assert.Equal(before, await ReadEverythingFromAsync(0));
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

using KubeBrain.Grains.Storage;
using KubeBrain.Grains.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Xunit;

namespace KubeBrain.Tests.Storage;

public sealed class SqliteMvccStoreTests : PersistentMvccStoreConformanceTests
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kubebrain-tests", Guid.NewGuid().ToString("N"));

    /// <summary>
    /// The log's indexes are its primary key (revision, sub) and (key group, revision): an append then writes at the
    /// end of the table, of the key and of each key group it touches. An index on keys would take a page write per
    /// row at a random place.
    /// </summary>
    private const string IndexesOfTheLog = "SELECT tbl_name || ' ' || name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'kv_log' ORDER BY name";

    private static readonly List<string> LogIndexes = ["kv_log kv_log_key_group", "kv_log sqlite_autoindex_kv_log_1"];

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
            ["1 0001_initial", "2 0002_drop_key_index", "3 0003_index_log_by_key_group"],
            await QueryAsync(connection, "SELECT version || ' ' || name FROM schema_migrations ORDER BY version"));
        Assert.Equal(["wal"], await QueryAsync(connection, "PRAGMA journal_mode"));
        Assert.Equal(
            ["kv_log", "leases", "meta", "range_owner", "schema_migrations"],
            await QueryAsync(connection, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"));
        Assert.Equal(LogIndexes, await QueryAsync(connection, IndexesOfTheLog));
    }

    /// <summary>A database migrated up to <paramref name="version"/> gets the later migrations, and its history reads the same.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task AnOlderSchemaIsMigratedAndKeepsItsHistory(int version)
    {
        await WriteRandomHistoryAsync(seed: 5, revisions: 20);
        var before = await ReadEverythingFromAsync(0);
        await using (var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False"))
        {
            await connection.OpenAsync();
            await QueryAsync(connection, "DROP INDEX kv_log_key_group");
            if (version == 1)
            {
                await QueryAsync(connection, "CREATE INDEX kv_log_key_revision ON kv_log (key, revision)");
            }
            await QueryAsync(connection, $"DELETE FROM schema_migrations WHERE version > {version}");
        }

        await ReopenAsync();

        await using (var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False"))
        {
            await connection.OpenAsync();
            Assert.Equal(LogIndexes, await QueryAsync(connection, IndexesOfTheLog));
            Assert.Equal(["1", "2", "3"], await QueryAsync(connection, "SELECT CAST(version AS TEXT) FROM schema_migrations ORDER BY version"));
        }
        Assert.Equal(before, await ReadEverythingFromAsync(0));
    }

    [Fact]
    public async Task AReadOfOneKeyGroupSearchesTheGroupIndex()
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + SqliteKeyQueries.Spans.Rows(SpanShapes.Of(Interval("/registry/pods/", "/registry/pods0")), inGroup: true);
        foreach (var name in new[] { "@start", "@end", "@group", "@revision", "@limit" })
        {
            command.Parameters.AddWithValue(name, 1);
        }
        await using var reader = await command.ExecuteReaderAsync();
        var plan = new List<string>();
        while (await reader.ReadAsync())
        {
            plan.Add(reader.GetString(3));
        }

        Assert.Contains("SEARCH r USING INDEX kv_log_key_group (<expr>=? AND revision<?)", plan);
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

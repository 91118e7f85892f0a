using System.Data;
using KubeBrain.Grains.Storage.Postgres;
using KubeBrain.Tests.Infrastructure;
using Npgsql;
using Xunit;

namespace KubeBrain.Tests.Storage;

/// <summary>
/// The named queries of migration 0002 run as Microsoft.Orleans.Clustering.AdoNet runs them: the text read from
/// OrleansQuery, parameters by the provider's names and types, results read by column name. Membership changes are
/// compare-and-swap on the table version and change nothing when they answer 0.
/// </summary>
public sealed class OrleansClusteringSchemaTests : IAsyncLifetime
{
    private const string Cluster = "test-cluster";
    private const int Active = 3;
    private const int Dead = 6;

    private static readonly DateTime Start = new(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);

    private readonly TestDatabase _database = SharedPostgres.CreateDatabase();
    private Dictionary<string, string> _queries = [];

    public async Task InitializeAsync()
    {
        await PostgresSchema.MigrateAsync(_database.ConnectionString, CancellationToken.None);
        _queries = (await ReadAsync("SELECT QueryKey, QueryText FROM OrleansQuery", [])).ToDictionary(r => (string)r["QueryKey"], r => (string)r["QueryText"]);
    }

    public Task DisposeAsync()
    {
        _database.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public void EveryQueryTheProviderNeedsIsThere()
    {
        Assert.Equal(
            [
                "CleanupDefunctSiloEntriesKey", "CleanupDefunctSiloEntryKey", "DeleteMembershipTableEntriesKey", "GatewaysQueryKey",
                "InsertMembershipKey", "InsertMembershipVersionKey", "MembershipReadAllKey", "MembershipReadRowKey",
                "UpdateIAmAlivetimeKey", "UpdateMembershipKey",
            ],
            _queries.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task TheVersionRowIsCreatedOnce()
    {
        Assert.True(await ScalarAsync("InsertMembershipVersionKey", Key()));
        Assert.False(await ScalarAsync("InsertMembershipVersionKey", Key()));

        var row = Assert.Single(await RunAsync("MembershipReadAllKey", Key()));
        Assert.Equal(0, row["Version"]);
        Assert.Equal(DBNull.Value, row["StartTime"]);
    }

    [Fact]
    public async Task AnInsertNeedsTheCurrentVersion_AndANewRow()
    {
        await ScalarAsync("InsertMembershipVersionKey", Key());

        Assert.True(await ScalarAsync("InsertMembershipKey", Entry(port: 11111, version: 0)));
        Assert.False(await ScalarAsync("InsertMembershipKey", Entry(port: 11112, version: 0)));
        Assert.False(await ScalarAsync("InsertMembershipKey", Entry(port: 11111, version: 1)));
        Assert.True(await ScalarAsync("InsertMembershipKey", Entry(port: 11112, version: 1)));

        var rows = await RunAsync("MembershipReadAllKey", Key());
        Assert.Equal(["127.0.0.1:11111 silo 3 30000 2", "127.0.0.1:11112 silo 3 30000 2"], rows.Select(Describe).Order());
        Assert.Equal(Start, rows[0]["StartTime"]);
    }

    [Fact]
    public async Task AnUpdateNeedsTheCurrentVersion_AndAnExistingRow_AndNeverMovesTheHeartbeatBack()
    {
        await ScalarAsync("InsertMembershipVersionKey", Key());
        await ScalarAsync("InsertMembershipKey", Entry(port: 11111, version: 0));

        Assert.False(await ScalarAsync("UpdateMembershipKey", Update(port: 11111, status: Dead, version: 0)));
        Assert.False(await ScalarAsync("UpdateMembershipKey", Update(port: 11112, status: Dead, version: 1)));
        Assert.True(await ScalarAsync("UpdateMembershipKey", Update(port: 11111, status: Dead, version: 1, suspect: "S127.0.0.1:11112:1@1,2026-01-02 03:04:05.000 GMT")));
        await RunAsync("UpdateIAmAlivetimeKey", [.. Key(), .. Silo(11111), P("IAmAliveTime", Start.AddMinutes(-5))]);

        var row = Assert.Single(await RunAsync("MembershipReadRowKey", [.. Key(), .. Silo(11111)]));
        Assert.Equal("127.0.0.1:11111 silo 6 30000 2", Describe(row));
        Assert.Equal(Start.AddSeconds(1), row["IAmAliveTime"]);
        Assert.Equal("S127.0.0.1:11112:1@1,2026-01-02 03:04:05.000 GMT", row["SuspectTimes"]);
        Assert.Equal(2, Assert.Single(await RunAsync("MembershipReadRowKey", [.. Key(), .. Silo(11112)]))["Version"]);
    }

    [Fact]
    public async Task GatewaysAreTheActiveSilosThatTakeClients()
    {
        await ScalarAsync("InsertMembershipVersionKey", Key());
        await ScalarAsync("InsertMembershipKey", Entry(port: 11111, version: 0));
        await ScalarAsync("InsertMembershipKey", Entry(port: 11112, version: 1));
        await ScalarAsync("InsertMembershipKey", Entry(port: 11113, version: 2, proxyPort: 0));
        await ScalarAsync("UpdateMembershipKey", Update(port: 11112, status: Dead, version: 3, suspect: "S127.0.0.1:11111:1@2026-11-26 00:00:00.000 GMT"));

        var gateways = await RunAsync("GatewaysQueryKey", [.. Key(), P("Status", Active)]);

        Assert.Equal("127.0.0.1 30000 1", $"{gateways.Single()["Address"]} {gateways.Single()["ProxyPort"]} {gateways.Single()["Generation"]}");
    }

    [Fact]
    public async Task CleanupRemovesOnlyDeadSilosThatStillLookAsRead_AndDeleteForgetsTheCluster()
    {
        await ScalarAsync("InsertMembershipVersionKey", Key());
        await ScalarAsync("InsertMembershipKey", Entry(port: 11111, version: 0));
        await ScalarAsync("InsertMembershipKey", Entry(port: 11112, version: 1));
        await ScalarAsync("InsertMembershipKey", Entry(port: 11113, version: 2));
        await ScalarAsync("UpdateMembershipKey", Update(port: 11112, status: Dead, version: 3));
        await ScalarAsync("UpdateMembershipKey", Update(port: 11113, status: Dead, version: 4));

        await RunAsync("CleanupDefunctSiloEntriesKey", [.. Key(), P("IAmAliveTime", Start.AddSeconds(1))]);
        Assert.Equal(3, (await RunAsync("MembershipReadAllKey", Key())).Count);
        var captured = Assert.Single(await RunAsync("MembershipReadRowKey", [.. Key(), .. Silo(11113)]));
        NpgsqlParameter[] Read(object iAmAlive) =>
            [.. Key(), .. Silo(11113), P("StartTime", captured["StartTime"]), P("IAmAliveTime", iAmAlive), P("SuspectTimes", DBNull.Value)];
        await RunAsync("CleanupDefunctSiloEntryKey", Read(Start));
        Assert.Equal(3, (await RunAsync("MembershipReadAllKey", Key())).Count);
        await RunAsync("CleanupDefunctSiloEntryKey", Read(captured["IAmAliveTime"]));
        await RunAsync("CleanupDefunctSiloEntriesKey", [.. Key(), P("IAmAliveTime", Start.AddMinutes(1))]);

        Assert.Equal(["127.0.0.1:11111 silo 3 30000 5"], (await RunAsync("MembershipReadAllKey", Key())).Select(Describe));
        await RunAsync("DeleteMembershipTableEntriesKey", Key());
        Assert.Empty(await RunAsync("MembershipReadAllKey", Key()));
    }

    private static NpgsqlParameter[] Key() => [P("DeploymentId", Cluster)];

    private static NpgsqlParameter[] Silo(int port) =>
        [new NpgsqlParameter("Address", DbType.AnsiString) { Value = "127.0.0.1" }, P("Port", port), P("Generation", 1)];

    private static NpgsqlParameter[] Entry(int port, int version, int proxyPort = 30000) =>
    [
        .. Key(), .. Silo(port), P("SiloName", "silo"), P("HostName", "host"), P("Status", Active), P("ProxyPort", proxyPort),
        P("StartTime", Start), P("IAmAliveTime", Start), P("Version", version),
    ];

    private static NpgsqlParameter[] Update(int port, int status, int version, string? suspect = null) =>
    [
        .. Key(), .. Silo(port), P("Status", status), P("SuspectTimes", (object?)suspect ?? DBNull.Value),
        P("IAmAliveTime", Start.AddSeconds(1)), P("Version", version),
    ];

    private static NpgsqlParameter P(string name, object value) => new(name, value);

    private static string Describe(Dictionary<string, object> row) =>
        $"{row["Address"]}:{row["Port"]} {row["SiloName"]} {row["Status"]} {row["ProxyPort"]} {row["Version"]}";

    /// <summary>Runs a query that answers one value, read as the provider reads it: non-zero is true.</summary>
    private async Task<bool> ScalarAsync(string queryKey, NpgsqlParameter[] parameters) =>
        Convert.ToBoolean(Assert.Single(Assert.Single(await RunAsync(queryKey, parameters)).Values), System.Globalization.CultureInfo.InvariantCulture);

    private Task<List<Dictionary<string, object>>> RunAsync(string queryKey, NpgsqlParameter[] parameters) =>
        ReadAsync(_queries[queryKey], parameters);

    /// <summary>The rows of every statement, keyed by column name as the provider asks for them (Npgsql matches names without case).</summary>
    private async Task<List<Dictionary<string, object>>> ReadAsync(string sql, NpgsqlParameter[] parameters)
    {
        await using var connection = new NpgsqlConnection(_database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddRange(parameters);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<Dictionary<string, object>>();
        do
        {
            while (await reader.ReadAsync())
            {
                var row = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    row[reader.GetName(i)] = reader.GetValue(i);
                }
                rows.Add(row);
            }
        }
        while (await reader.NextResultAsync());
        return rows;
    }
}

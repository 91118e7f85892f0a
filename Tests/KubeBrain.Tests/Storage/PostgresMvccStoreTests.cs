using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Storage;
using KubeBrain.Grains.Storage.Postgres;
using KubeBrain.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KubeBrain.Tests.Storage;

public sealed class PostgresMvccStoreTests : PersistentMvccStoreConformanceTests
{
    private readonly TestDatabase _database = SharedPostgres.CreateDatabase();

    protected override IMvccStore CreateStore() =>
        new PostgresMvccStore(new PostgresStoreOptions { ConnectionString = _database.ConnectionString }, NullLogger<PostgresMvccStore>.Instance);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _database.Dispose();
    }

    /// <summary>The store of a silo without the sequencer is migrated by its host but never opened: it reads, and only reads.</summary>
    [Fact]
    public async Task AMigratedStoreThatIsNotOpenServesReadsButRefusesWrites()
    {
        Log.Revision().Put("/a", "1");
        await AppendLogAsync();
        var other = (PostgresMvccStore)NewStore();

        Assert.Empty(await other.MigrateAsync(None));

        Assert.Equal("/a", System.Text.Encoding.UTF8.GetString((await other.RangeAsync(new KeySpan([], []), 0, 0, false, None)).Kvs.Single().Key));
        Assert.Equal(2, (await other.ReadRevisionsAsync(1, 10, None)).Rows.Single().Revision);
        await Assert.ThrowsAsync<InvalidOperationException>(() => other.ClaimRangeAsync(1, "default", None));
    }
}

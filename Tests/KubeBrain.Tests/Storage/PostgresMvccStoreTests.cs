using KubeBrain.Grains.Storage;
using KubeBrain.Grains.Storage.Postgres;
using KubeBrain.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

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
}

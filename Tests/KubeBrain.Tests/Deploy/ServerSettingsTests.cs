using KubeBrain.Silo;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Xunit;

namespace KubeBrain.Tests.Deploy;

/// <summary>The silo settings the server chooses over Orleans' defaults, as the built host resolves them.</summary>
public sealed class ServerSettingsTests
{
    [Theory]
    [InlineData(StorageKind.Memory)]
    [InlineData(StorageKind.Postgres)]
    public async Task TheGrainDirectoryCacheIsSizedForTheServersGrains(StorageKind storage)
    {
        var options = new ServerOptions
        {
            Storage = storage,
            PostgresConnectionString = storage == StorageKind.Postgres ? "Host=127.0.0.1;Username=kubebrain" : null,
        };
        var app = KubeBrainServer.Build(options, environment: _ => null);
        await using var _ = app;
        var directory = app.Services.GetRequiredService<IOptions<GrainDirectoryOptions>>().Value;
        Assert.Equal(KubeBrainServer.DirectoryCacheEntries, directory.CacheSize);
        Assert.True(directory.CacheSize < GrainDirectoryOptions.DEFAULT_CACHE_SIZE);
    }
}

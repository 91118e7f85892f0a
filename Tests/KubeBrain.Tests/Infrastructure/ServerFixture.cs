using Xunit;

namespace KubeBrain.Tests.Infrastructure;

/// <summary>One in-memory KubeBrain server shared by the tests of a class.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public KubeBrainInstance Instance { get; private set; } = null!;

    public async Task InitializeAsync() => Instance = await KubeBrainInstance.StartAsync();

    public async Task DisposeAsync() => await Instance.DisposeAsync();
}

using KubeBrain.Grains.Storage;
using KubeBrain.Grains.Storage.InMemory;

namespace KubeBrain.Tests.Storage;

public sealed class InMemoryMvccStoreTests : MvccStoreConformanceTests
{
    protected override IMvccStore CreateStore() => new InMemoryMvccStore();
}

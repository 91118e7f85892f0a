using System.Text;
using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Interfaces.Model;
using Xunit;

namespace KubeBrain.Tests.Grains;

/// <summary>The key-to-range rule, as a table.</summary>
public sealed class KeyRouterTests
{
    [Theory]
    [InlineData("/registry/pods/default/web", "/registry/pods/")]
    [InlineData("/registry/pods/", "/registry/pods/")]
    [InlineData("/registry/apiregistration.k8s.io/apiservices/v1.", "/registry/apiregistration.k8s.io/")]
    [InlineData("/registry/pods", KeyRouter.DefaultRange)]
    [InlineData("/registry/health", KeyRouter.DefaultRange)]
    [InlineData("/registry//x", KeyRouter.DefaultRange)]
    [InlineData("/registry/po ds/x", KeyRouter.DefaultRange)]
    [InlineData("compact_rev_key", KeyRouter.DefaultRange)]
    [InlineData("foo", KeyRouter.DefaultRange)]
    public void EveryKeyHasOneRange(string key, string range) => Assert.Equal(range, KeyRouter.RangeOf(Encoding.UTF8.GetBytes(key)));

    [Theory]
    [InlineData("/registry/pods/ns/", "/registry/pods/ns0", "/registry/pods/")]
    [InlineData("/registry/pods/", "/registry/pods0", "/registry/pods/")]
    [InlineData("/registry/pods/", "/registry/pods1", null)]
    [InlineData("/registry/", "/registry0", null)]
    [InlineData("a", "b", KeyRouter.DefaultRange)]
    [InlineData("a", "", KeyRouter.DefaultRange)]
    [InlineData("/", "", null)]
    [InlineData("/registry0", "", KeyRouter.DefaultRange)]
    [InlineData("/registry/pods/x", "", null)]
    public void IntervalsHaveAnOwnerOnlyWhenOneRangeHoldsAllTheirKeys(string start, string end, string? owner) =>
        Assert.Equal(owner, KeyRouter.OwnerOf(new KeySpan(Encoding.UTF8.GetBytes(start), Encoding.UTF8.GetBytes(end))));

    [Fact]
    public void WideIntervalsReachEveryClaimedRangeThatMayHoldTheirKeys()
    {
        string[] claimed = ["/registry/pods/", "/registry/services/", "default", "/registry/apps/"];
        var span = new KeySpan("/registry/p"u8.ToArray(), "/registry/z"u8.ToArray());
        Assert.Equal(["/registry/pods/", "/registry/services/", KeyRouter.DefaultRange], KeyRouter.RangesFor(span, claimed));
    }

    [Fact]
    public void ARegistryRangeOwnsExactlyItsPrefixInterval()
    {
        var domain = KeyRouter.DomainOf("/registry/pods/");
        Assert.True(domain.Contains("/registry/pods/"u8));
        Assert.True(domain.Contains("/registry/pods/\xff"u8));
        Assert.False(domain.Contains("/registry/pods0"u8));
        Assert.False(domain.Contains("/registry/pods"u8));
    }
}

using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Storage;
using Xunit;

namespace KubeBrain.Tests.Storage;

/// <summary>Which spans lie in one key group, by which the SQL stores index their logs.</summary>
public sealed class KeyGroupsTests
{
    [Theory]
    [InlineData("/registry/pods/ns/a", null, "/registry/pods/")]
    [InlineData("/registry/pods/", "/registry/pods0", "/registry/pods/")]
    [InlineData("/registry/pods/ns/", "/registry/pods/nt", "/registry/pods/")]
    [InlineData("/registry/pods/", "/registry/pods1", null)]
    [InlineData("/registry/pods/", "", null)]
    [InlineData("/registry/pods", null, "")]
    [InlineData("/registry//x", null, "")]
    [InlineData("/registry/", "/registry0", null)]
    [InlineData("/other/a", null, "")]
    [InlineData("/other/a", "/other/b", "")]
    [InlineData("", "/registry/", "")]
    [InlineData("", "/registry/a", null)]
    [InlineData("/registry0", "", "")]
    [InlineData("/registry0", "/z", "")]
    [InlineData("/registry", "/registry0", null)]
    [InlineData("", "", null)]
    public void ASpanHasAKeyGroupWhenAllItsKeysShareOne(string start, string? end, string? expected)
    {
        var span = new KeySpan(LogModel.Bytes(start), end is null ? null : LogModel.Bytes(end));

        Assert.Equal(expected, KeyGroups.Of(span) is { } group ? System.Text.Encoding.UTF8.GetString(group) : null);
    }
}

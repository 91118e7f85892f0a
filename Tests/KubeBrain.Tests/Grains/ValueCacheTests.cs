using System.Text;
using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.KeyRange;
using KubeBrain.Grains.Mvcc;
using Xunit;

namespace KubeBrain.Tests.Grains;

/// <summary>The budget of a key range's values: what stays in memory as values come in and are read.</summary>
public sealed class ValueCacheTests
{
    private static KeyVersion Committed(string key, int valueBytes, long revision) =>
        KeyVersion.FromCommitted(new KeyValue(Encoding.UTF8.GetBytes(key), revision, revision, 1, new byte[valueBytes], 0));

    private static string Held(IEnumerable<KeyVersion> versions) =>
        string.Join(",", versions.Where(v => v.Value is not null).Select(v => Encoding.UTF8.GetString(v.Key)));

    [Fact]
    public void TheOldestValuesGoFirstOnceTheBudgetIsExceeded()
    {
        var cache = new ValueCache(budget: 300);
        var versions = Enumerable.Range(0, 5).Select(i => Committed($"k{i}", 100, i + 2)).ToList();

        foreach (var version in versions)
        {
            cache.Admit(version);
        }

        Assert.Equal("k2,k3,k4", Held(versions));
        Assert.Equal(300, cache.Bytes);
    }

    [Fact]
    public void AValueReadSinceTheClockPassedItGoesRoundOnceMore()
    {
        var cache = new ValueCache(budget: 300);
        var versions = Enumerable.Range(0, 3).Select(i => Committed($"k{i}", 100, i + 2)).ToList();
        versions.ForEach(cache.Admit);
        versions[0].Referenced = true;

        var next = Committed("k3", 100, 5);
        cache.Admit(next);
        Assert.Equal("k0,k2", Held(versions));
        Assert.False(versions[0].Referenced);

        cache.Admit(Committed("k4", 100, 6));
        Assert.Equal("k0", Held(versions));
        Assert.Equal(300, cache.Bytes);
    }

    [Fact]
    public void EmptyValuesCostNothingAndStay()
    {
        var cache = new ValueCache(budget: 0);
        var empty = Committed("e", 0, 2);
        var full = Committed("f", 10, 3);

        cache.Admit(empty);
        cache.Admit(full);

        Assert.Equal("e", Held([empty, full]));
        Assert.Equal(0, cache.Bytes);
    }

    [Fact]
    public void AnEvictedValueComesBackOnceAndCountsAgain()
    {
        var cache = new ValueCache(budget: 100);
        var first = Committed("a", 100, 2);
        cache.Admit(first);
        cache.Admit(Committed("b", 100, 3));
        Assert.Null(first.Value);

        first.Restore(new byte[100]);
        cache.Admit(first);

        Assert.NotNull(first.Value);
        Assert.Equal(100, cache.Bytes);
    }

    [Fact]
    public void APendingVersionKeepsItsValue()
    {
        var pending = KeyVersion.NewPut("p"u8.ToArray(), new byte[10], 0, null, []);

        pending.Evict();

        Assert.NotNull(pending.Value);
    }
}

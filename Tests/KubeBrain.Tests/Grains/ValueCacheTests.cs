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
    }

    [Fact]
    public void AnEvictedValueThatComesBackCountsAgain()
    {
        var cache = new ValueCache(budget: 200);
        var first = Committed("a", 100, 2);
        var second = Committed("b", 100, 3);
        cache.Admit(first);
        cache.Admit(second);
        cache.Admit(Committed("c", 100, 4));
        Assert.Null(first.Value);

        first.Restore(new byte[100]);
        cache.Admit(first);

        Assert.Equal("a", Held([first, second]));
    }

    [Fact]
    public void AReleasedValueNoLongerCounts()
    {
        var cache = new ValueCache(budget: 200);
        var versions = Enumerable.Range(0, 2).Select(i => Committed($"k{i}", 100, i + 2)).ToList();
        versions.ForEach(cache.Admit);

        cache.Release(versions[0]);
        var next = Committed("k2", 100, 4);
        cache.Admit(next);

        Assert.Equal("k1,k2", Held([.. versions, next]));
    }

    [Fact]
    public void VersionsReleasedUnderBudgetAreNotKeptAlive()
    {
        var cache = new ValueCache(budget: 1 << 20);
        var released = ReleaseMany(cache, 20_000);

        GC.Collect();
        GC.WaitForPendingFinalizers();

        Assert.InRange(released.Count(r => r.IsAlive), 0, 2048);
    }

    /// <summary>Admits versions of one key one after another, releasing each as the next comes, as compaction does.</summary>
    private static List<WeakReference> ReleaseMany(ValueCache cache, int count)
    {
        var released = new List<WeakReference>(count);
        var live = Committed("k", 100, 2);
        cache.Admit(live);
        for (var revision = 3; revision < count + 3; revision++)
        {
            cache.Release(live);
            released.Add(new WeakReference(live));
            live = Committed("k", 100, revision);
            cache.Admit(live);
        }
        return released;
    }

    [Fact]
    public void AnUnlimitedBudgetKeepsEveryValue()
    {
        var cache = new ValueCache(budget: long.MaxValue);
        var version = Committed("k", 100, 2);
        cache.Admit(version);

        cache.Release(version);

        Assert.NotNull(version.Value);
    }
}

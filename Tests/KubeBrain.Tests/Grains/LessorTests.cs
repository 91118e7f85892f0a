using System.Text;
using KubeBrain.Grains.Leases;
using KubeBrain.Grains.Storage;
using Xunit;

namespace KubeBrain.Tests.Grains;

/// <summary>The lessor's bookkeeping, on a clock the tests move by hand.</summary>
public sealed class LessorTests
{
    private static readonly TimeSpan T0 = TimeSpan.FromHours(1);

    private static byte[] K(string key) => Encoding.UTF8.GetBytes(key);

    private static StoredRow Put(string key, long lease) => new(2, 0, K(key), 2, 1, lease, K("v"), false, 0, "r", 1);

    private static StoredRow Tombstone(string key) => new(3, 0, K(key), 0, 0, 0, [], true, 2, "r", 1);

    private static string[] KeysOf(Lessor lessor, long id) => [.. lessor.KeysOf(id).Select(Encoding.UTF8.GetString)];

    [Theory]
    [InlineData(-5, 2)]
    [InlineData(0, 2)]
    [InlineData(1, 2)]
    [InlineData(2, 2)]
    [InlineData(3660, 3660)]
    public void TheGrantedTtlIsRaisedToTheMinimum(long requested, long granted) => Assert.Equal(granted, Lessor.GrantedTtl(requested));

    [Fact]
    public void TimeToLive_RoundsDown_IsZeroOnceExpired_AndNullForUnknownLeases()
    {
        var lessor = new Lessor();
        lessor.Grant(1, 10, T0);

        Assert.Equal((10L, 10L), lessor.TimeToLive(1, T0));
        Assert.Equal((9L, 10L), lessor.TimeToLive(1, T0 + TimeSpan.FromMilliseconds(1)));
        Assert.Equal((0L, 10L), lessor.TimeToLive(1, T0 + TimeSpan.FromMilliseconds(9999)));
        Assert.Equal((0L, 10L), lessor.TimeToLive(1, T0 + TimeSpan.FromSeconds(12)));
        Assert.Null(lessor.TimeToLive(2, T0));
    }

    [Fact]
    public void Renew_RefreshesToTheGrantedTtl_ButNotOnceExpired()
    {
        var lessor = new Lessor();
        lessor.Grant(1, 10, T0);

        Assert.Equal(10, lessor.Renew(1, T0 + TimeSpan.FromSeconds(8)));
        Assert.Equal((10L, 10L), lessor.TimeToLive(1, T0 + TimeSpan.FromSeconds(8)));
        Assert.Empty(lessor.Expired(T0 + TimeSpan.FromSeconds(17)));
        Assert.Equal([1L], lessor.Expired(T0 + TimeSpan.FromSeconds(18)));
        Assert.Equal(0, lessor.Renew(1, T0 + TimeSpan.FromSeconds(18)));
        Assert.Equal(0, lessor.Renew(2, T0));
    }

    [Fact]
    public void ExpiredAndLiveLeasesComeSoonestExpiryFirst()
    {
        var lessor = new Lessor();
        lessor.Grant(30, 30, T0);
        lessor.Grant(10, 10, T0);
        lessor.Grant(20, 20, T0);
        lessor.Grant(5, 25, T0 - TimeSpan.FromSeconds(20));

        Assert.Equal([5L, 10L, 20L, 30L], lessor.LiveIds());
        Assert.Equal([5L, 10L], lessor.Expired(T0 + TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void CommittedRowsAttachDetachAndMoveKeys()
    {
        var lessor = new Lessor();
        lessor.Grant(1, 60, T0);
        lessor.Grant(2, 60, T0);

        lessor.Track([Put("b", 1), Put("a", 1), Put("c", 1), Put("d", 2), Put("e", 0)]);
        lessor.Track([Put("b", 0), Tombstone("c"), Put("a", 2), Put("a", 2)]);

        Assert.Empty(KeysOf(lessor, 1));
        Assert.Equal(["a", "d"], KeysOf(lessor, 2));
        Assert.False(lessor.IsTaken(3));
    }

    [Fact]
    public void AnEndedLeaseLeavesItsKeysToTheirDeletionUntilTheTimeSet_ThenTheyAreOrphans_AndItsIdStaysTakenUntilTheyAreGone()
    {
        var lessor = new Lessor();
        lessor.Grant(1, 60, T0);
        lessor.Track([Put("a", 1), Put("b", 1)]);

        Assert.True(lessor.End(1));
        Assert.False(lessor.End(1));
        Assert.False(lessor.IsLive(1));
        Assert.True(lessor.IsTaken(1));
        Assert.Empty(lessor.Orphaned(T0 + TimeSpan.FromDays(1)));
        lessor.LeaveKeys(1, T0 + TimeSpan.FromSeconds(5));
        Assert.Empty(lessor.Orphaned(T0 + TimeSpan.FromSeconds(4)));
        Assert.Equal([1L], lessor.Orphaned(T0 + TimeSpan.FromSeconds(5)));

        lessor.Track([Tombstone("a"), Tombstone("b")]);

        Assert.Empty(lessor.Orphaned(T0 + TimeSpan.FromSeconds(5)));
        Assert.False(lessor.IsTaken(1));
    }

    [Fact]
    public void KeysPutWithALeaseBeforeItEndedAreLeftToTheDeletionSetOnceThoseWritesCommitted()
    {
        var lessor = new Lessor();
        lessor.Grant(1, 60, T0);

        Assert.True(lessor.End(1));
        lessor.Track([Put("a", 1)]);
        Assert.Empty(lessor.Orphaned(T0));
        lessor.LeaveKeys(1, T0 + TimeSpan.FromSeconds(5));

        Assert.Empty(lessor.Orphaned(T0));
        Assert.Equal([1L], lessor.Orphaned(T0 + TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void AnEndedLeaseWithoutKeysLeavesNothingBehind()
    {
        var lessor = new Lessor();
        lessor.Grant(1, 60, T0);

        Assert.True(lessor.End(1));
        lessor.LeaveKeys(1, T0 + TimeSpan.FromSeconds(5));
        lessor.Track([Put("a", 1)]);

        Assert.Equal([1L], lessor.Orphaned(T0));
    }

    [Fact]
    public void LoadArmsEveryLeaseForItsFullTtl_AndKeysOfUnknownLeasesAreOrphans()
    {
        var lessor = new Lessor();

        lessor.Load(
            [new StoredLease(1, 60, 60), new StoredLease(2, 1, 1)],
            [new LeasedKey(1, K("a")), new LeasedKey(9, K("b")), new LeasedKey(9, K("c"))],
            T0);

        Assert.Equal((60L, 60L), lessor.TimeToLive(1, T0));
        Assert.Equal((2L, 2L), lessor.TimeToLive(2, T0));
        Assert.Equal(["a"], KeysOf(lessor, 1));
        Assert.Equal([9L], lessor.Orphaned(T0));
        Assert.Equal(["b", "c"], KeysOf(lessor, 9));
        Assert.True(lessor.IsTaken(9));
        Assert.NotEqual(0, lessor.NewId());
    }
}

using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Storage;
using Xunit;

namespace KubeBrain.Tests.Storage;

/// <summary>
/// The conformance suite plus what a store that outlives its process must show: a new store on the same storage
/// continues exactly where the disposed one stopped.
/// </summary>
public abstract class PersistentMvccStoreConformanceTests : MvccStoreConformanceTests
{
    [Fact]
    public async Task EverythingSurvivesReopening()
    {
        await WriteRandomHistoryAsync(seed: 21, revisions: 30);
        Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(Opened.Epoch, 12, None));
        await PurgeAllAsync(maxRows: 4);
        Assert.Equal(1, await Store.ClaimRangeAsync(Opened.Epoch, "/registry/pods/", None));
        Assert.Equal(1, await Store.ClaimRangeAsync(Opened.Epoch, "/registry/leases/", None));
        Assert.Equal(2, await Store.ClaimRangeAsync(Opened.Epoch, "/registry/pods/", None));
        var before = await ReadEverythingFromAsync(12);
        var epoch = Opened.Epoch;

        var reopened = await ReopenAsync();

        Assert.Equal(new StoreMetadata(Log.CurrentRevision, 12, epoch + 1), reopened);
        Assert.Equal(before, await ReadEverythingFromAsync(12));
        Assert.Equal(new RangeOwner[] { new("/registry/leases/", 1), new("/registry/pods/", 2) }, await Store.ListRangesAsync(None));
        Assert.Equal(3, await Store.ClaimRangeAsync(Opened.Epoch, "/registry/pods/", None));
        Assert.Equal(0, await Store.PurgeAsync(Opened.Epoch, 100, None));
        Log.Revision().Put("/after", "reopen");
        var batch = Log.TakeBatch(epoch);
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.AppendAsync(batch, None));
        await Store.AppendAsync(batch with { Epoch = reopened.Epoch }, None);
        await AssertReadMatchesModelAsync(new KeySpan([], []), Log.CurrentRevision);
    }

    [Fact]
    public async Task APurgeCutShortByReopeningFinishesAfterIt()
    {
        Log.Revision().Put("a", "1").Revision().Put("a", "2").Revision().Delete("a").Revision().Put("b", "1");
        await WriteRandomHistoryAsync(seed: 33, revisions: 30);
        const long compaction = 20;
        Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(Opened.Epoch, compaction, None));
        var removed = 0;
        for (var batch = 0; batch < 2; batch++)
        {
            removed += await Store.PurgeAsync(Opened.Epoch, 1, None);
        }

        await ReopenAsync();

        await AssertReadMatchesModelAsync(new KeySpan([], []), compaction);
        var later = Log.CurrentRevision - 3;
        var before = await ReadEverythingFromAsync(later);
        Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(Opened.Epoch, later, None));
        removed += await PurgeAllAsync(maxRows: 2);
        Assert.Equal(Log.PurgeableAt(later), removed);
        Assert.Equal(before, await ReadEverythingFromAsync(later));
    }

    [Fact]
    public async Task LeasesAndLeasedKeysSurviveReopening()
    {
        Assert.True(await Store.GrantLeaseAsync(Opened.Epoch, new StoredLease(11, 3660, 3660), None));
        Assert.True(await Store.GrantLeaseAsync(Opened.Epoch, new StoredLease(12, 15, 15), None));
        Assert.True(await Store.GrantLeaseAsync(Opened.Epoch, new StoredLease(13, 2, 2), None));
        Assert.True(await Store.RevokeLeaseAsync(Opened.Epoch, 12, None));
        Log.Revision().Put("/registry/events/ns/a", "e", lease: 11).Put("/registry/masterleases/ip", "m", lease: 12).Put("/plain", "p");
        await AppendLogAsync();

        await ReopenAsync();

        Assert.Equal([new StoredLease(11, 3660, 3660), new StoredLease(13, 2, 2)], await Store.ListLeasesAsync(None));
        Assert.Equal(
            ShowLeased([new LeasedKey(11, LogModel.Bytes("/registry/events/ns/a")), new LeasedKey(12, LogModel.Bytes("/registry/masterleases/ip"))]),
            ShowLeased(await Store.ListLeasedKeysAsync(None)));
        Assert.False(await Store.GrantLeaseAsync(Opened.Epoch, new StoredLease(13, 5, 5), None));
        Assert.True(await Store.GrantLeaseAsync(Opened.Epoch, new StoredLease(12, 15, 15), None));
        Assert.True(await Store.RevokeLeaseAsync(Opened.Epoch, 11, None));

        await ReopenAsync();

        Assert.Equal([new StoredLease(12, 15, 15), new StoredLease(13, 2, 2)], await Store.ListLeasesAsync(None));
    }

    [Fact]
    public async Task EpochsKeepCountingAcrossReopening()
    {
        var first = Opened.Epoch;
        await Store.OpenAsync(LeaseDuration, None);

        Assert.Equal(first + 2, (await ReopenAsync()).Epoch);
        Assert.Equal(first + 3, (await ReopenAsync()).Epoch);
    }

    [Fact]
    public async Task AFencedAppendLeavesNothingBehindAfterReopening()
    {
        Log.Revision().Put("a", "1");
        var batch = Log.TakeBatch(Opened.Epoch);
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.AppendAsync(batch with { Epoch = Opened.Epoch + 5 }, None));

        var reopened = await ReopenAsync();

        Assert.Equal(1, reopened.CurrentRevision);
        Assert.Empty((await Store.ReadRevisionsAsync(0, 10, None)).Rows);
    }
}

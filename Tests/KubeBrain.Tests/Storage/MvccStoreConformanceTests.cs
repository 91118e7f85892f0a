using System.Diagnostics;
using System.Text;
using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Storage;
using Xunit;

namespace KubeBrain.Tests.Storage;

/// <summary>
/// The behaviour every <see cref="IMvccStore"/> must show. A backend's test class derives from this and says how
/// to create its store; each test gets a fresh, opened store.
/// </summary>
public abstract class MvccStoreConformanceTests : IAsyncLifetime
{
    private static readonly KeySpan All = new([], []);

    /// <summary>The sequencer lease the tests open with: short, as a reopening waits out the one before.</summary>
    protected static readonly TimeSpan LeaseDuration = TimeSpan.FromMilliseconds(200);
    private readonly List<IMvccStore> _stores = [];

    /// <summary>The store under test, opened.</summary>
    protected IMvccStore Store { get; private set; } = null!;

    /// <summary>What the last <see cref="IMvccStore.OpenAsync"/> of <see cref="Store"/> returned.</summary>
    protected StoreMetadata Opened { get; private set; } = null!;

    /// <summary>The rows written so far, and the oracle for reads.</summary>
    private protected LogModel Log { get; } = new();

    protected static CancellationToken None => CancellationToken.None;

    public async Task InitializeAsync()
    {
        Store = NewStore();
        Opened = await Store.OpenAsync(LeaseDuration, None);
    }

    public virtual async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }
    }

    /// <summary>
    /// A new, unopened store. Persistent backends return one over the same storage as the stores before it.
    /// </summary>
    protected abstract IMvccStore CreateStore();

    /// <summary>A new store from <see cref="CreateStore"/>, disposed after the test.</summary>
    protected IMvccStore NewStore()
    {
        var store = CreateStore();
        _stores.Add(store);
        return store;
    }

    /// <summary>Disposes <see cref="Store"/> and opens a new one in its place.</summary>
    protected async Task<StoreMetadata> ReopenAsync()
    {
        await Store.DisposeAsync();
        Store = NewStore();
        Opened = await Store.OpenAsync(LeaseDuration, None);
        return Opened;
    }

    /// <summary>Appends every revision built on <see cref="Log"/> since the last append.</summary>
    protected Task AppendLogAsync() => Store.AppendAsync(Log.TakeBatch(Opened.Epoch), None);

    protected Task<RangeResult> ReadAsync(KeySpan span, long revision = 0, long limit = 0, bool countOnly = false) =>
        Store.RangeAsync(span, revision, limit, countOnly, None);

    /// <summary>Asserts that reading <paramref name="span"/> at <paramref name="revision"/> matches the model.</summary>
    protected async Task AssertReadMatchesModelAsync(KeySpan span, long revision)
    {
        var expected = Log.LiveAt(span, revision);
        var actual = await ReadAsync(span, revision);
        Assert.Equal(
            Show.Range(new RangeResult(KvStatus.Ok, expected, expected.Count, false)),
            Show.Range(actual));
    }

    /// <summary>Builds a deterministic history over a few keys with overwrites, deletes and re-creations.</summary>
    protected async Task WriteRandomHistoryAsync(int seed, int revisions)
    {
        var random = new Random(seed);
        string[] keys = ["/a", "/b", "/b/x", "/c", "/d", "/e", "/f", "/g"];
        var written = 0;
        while (written < revisions)
        {
            var batchSize = Math.Min(random.Next(1, 5), revisions - written);
            for (var i = 0; i < batchSize; i++)
            {
                Log.Revision();
                foreach (var key in keys.OrderBy(_ => random.Next()).Take(random.Next(1, 4)))
                {
                    if (Log.IsLive(key) && random.Next(3) == 0)
                    {
                        Log.Delete(key);
                    }
                    else
                    {
                        Log.Put(key, $"{key}@{Log.CurrentRevision}", lease: random.Next(2) * 7);
                    }
                }
            }
            await AppendLogAsync();
            written += batchSize;
        }
    }

    /// <summary>Snapshots every read a client at or above <paramref name="fromRevision"/> can make.</summary>
    protected async Task<List<string>> ReadEverythingFromAsync(long fromRevision)
    {
        var snapshot = new List<string>();
        var keys = Log.Rows.Select(row => row.Key).DistinctBy(Show.Hex).ToList();
        for (var revision = fromRevision; revision <= Log.CurrentRevision; revision++)
        {
            snapshot.Add(Show.Range(await ReadAsync(All, revision)));
            foreach (var key in keys)
            {
                snapshot.Add(Show.Range(await ReadAsync(KeySpan.Single(key), revision)));
            }
        }
        var revisions = await Store.ReadRevisionsAsync(fromRevision, int.MaxValue, None);
        snapshot.AddRange(Show.Rows(revisions.Rows));
        return snapshot;
    }

    /// <summary>Purges in batches of <paramref name="maxRows"/> until nothing is left and returns the total.</summary>
    protected async Task<int> PurgeAllAsync(int maxRows)
    {
        var total = 0;
        while (true)
        {
            var removed = await Store.PurgeAsync(Opened.Epoch, maxRows, None);
            Assert.InRange(removed, 0, maxRows);
            if (removed == 0)
            {
                return total;
            }
            total += removed;
        }
    }

    [Fact]
    public async Task EmptyStoreIsAtRevisionOne()
    {
        Assert.Equal(new StoreMetadata(1, 0, 1), Opened);
        Assert.Equal("Ok count=0 more=False []", Show.Range(await ReadAsync(All)));
        Assert.Equal("Ok count=0 more=False []", Show.Range(await ReadAsync(All, revision: 1)));
        Assert.Equal(KvStatus.FutureRevision, (await ReadAsync(All, revision: 2)).Status);
        var revisions = await Store.ReadRevisionsAsync(1, 10, None);
        Assert.Equal(KvStatus.Ok, revisions.Status);
        Assert.Equal(0, revisions.CompactRevision);
        Assert.Empty(revisions.Rows);
    }

    [Fact]
    public async Task CallsBeforeOpenAreRefused()
    {
        var unopened = NewStore();
        await Assert.ThrowsAsync<InvalidOperationException>(() => unopened.RangeAsync(All, 0, 0, false, None));
        Log.Revision().Put("/a", "1");
        await Assert.ThrowsAsync<InvalidOperationException>(() => unopened.AppendAsync(Log.TakeBatch(1), None));
    }

    /// <summary>
    /// The worked example of <see cref="IMvccStore"/>: put a (2), put a (3), delete a (4), put a (5). A version of
    /// 0 means the key is absent.
    /// </summary>
    [Theory]
    [InlineData(1, 0, 0, 0)]
    [InlineData(2, 2, 2, 1)]
    [InlineData(3, 2, 3, 2)]
    [InlineData(4, 0, 0, 0)]
    [InlineData(5, 5, 5, 1)]
    [InlineData(0, 5, 5, 1)]
    [InlineData(-1, 5, 5, 1)]
    public async Task WorkedExampleReadsEachRevision(long readAt, long create, long mod, long version)
    {
        Log.Revision().Put("a", "first").Revision().Put("a", "second");
        await AppendLogAsync();
        Log.Revision().Delete("a");
        await AppendLogAsync();
        Log.Revision().Put("a", "third");
        await AppendLogAsync();

        var result = await ReadAsync(KeySpan.Single(LogModel.Bytes("a")), readAt);

        Assert.Equal(KvStatus.Ok, result.Status);
        if (version == 0)
        {
            Assert.Empty(result.Kvs);
            Assert.Equal(0, result.Count);
        }
        else
        {
            var kv = Assert.Single(result.Kvs);
            Assert.Equal((create, mod, version), (kv.CreateRevision, kv.ModRevision, kv.Version));
            Assert.Equal(1, result.Count);
        }
    }

    [Fact]
    public async Task WorkedExampleRowsCarryGenerationAndPreviousRevision()
    {
        Log.Revision().Put("a", "first").Revision().Put("a", "second").Revision().Delete("a").Revision().Put("a", "third");
        await AppendLogAsync();

        var rows = (await Store.ReadRevisionsAsync(2, 10, None)).Rows;

        Assert.Equal(
            new[] { (2L, 2L, 1L, false, 0L), (3L, 2L, 2L, false, 2L), (4L, 0L, 0L, true, 3L), (5L, 5L, 1L, false, 0L) },
            rows.Select(row => (row.Revision, row.CreateRevision, row.Version, row.Tombstone, row.PrevRevision)));
    }

    [Fact]
    public async Task ReadsAtEveryRevisionMatchTheModel()
    {
        await WriteRandomHistoryAsync(seed: 7, revisions: 40);

        KeySpan[] spans =
        [
            All,
            KeySpan.Single(LogModel.Bytes("/b")),
            new(LogModel.Bytes("/b"), LogModel.Bytes("/d")),
            new(LogModel.Bytes("/c"), []),
        ];
        for (var revision = 1; revision <= Log.CurrentRevision; revision++)
        {
            foreach (var span in spans)
            {
                await AssertReadMatchesModelAsync(span, revision);
            }
        }
    }

    [Fact]
    public async Task TombstonesHideKeys()
    {
        Log.Revision().Put("a", "1").Put("b", "2").Revision().Delete("a");
        await AppendLogAsync();

        Assert.Equal(Show.Hex(LogModel.Bytes("b")), Show.Keys(await ReadAsync(All)));
        Assert.Equal(1, (await ReadAsync(All)).Count);
        Assert.Equal("Ok count=0 more=False []", Show.Range(await ReadAsync(KeySpan.Single(LogModel.Bytes("a")))));
        Assert.Equal(2, (await ReadAsync(All, revision: 2)).Count);
    }

    [Fact]
    public async Task GenerationRestartsAfterDelete()
    {
        Log.Revision().Put("k", "1").Revision().Put("k", "2").Revision().Delete("k");
        Log.Revision().Put("k", "3", lease: 9).Revision().Put("k", "4");
        await AppendLogAsync();

        var latest = Assert.Single((await ReadAsync(KeySpan.Single(LogModel.Bytes("k")))).Kvs);
        Assert.Equal((5L, 6L, 2L, 0L), (latest.CreateRevision, latest.ModRevision, latest.Version, latest.Lease));
        var recreated = Assert.Single((await ReadAsync(KeySpan.Single(LogModel.Bytes("k")), revision: 5)).Kvs);
        Assert.Equal((5L, 5L, 1L, 9L), (recreated.CreateRevision, recreated.ModRevision, recreated.Version, recreated.Lease));
        var firstGeneration = Assert.Single((await ReadAsync(KeySpan.Single(LogModel.Bytes("k")), revision: 3)).Kvs);
        Assert.Equal((2L, 3L, 2L), (firstGeneration.CreateRevision, firstGeneration.ModRevision, firstGeneration.Version));
    }

    /// <summary>Keys a, b, c, d; an end of null is a single-key span, "" is unbounded.</summary>
    [Theory]
    [InlineData("b", null, "b")]
    [InlineData("bb", null, "")]
    [InlineData("b", "d", "b,c")]
    [InlineData("b", "b\0", "b")]
    [InlineData("a", "e", "a,b,c,d")]
    [InlineData("b", "", "b,c,d")]
    [InlineData("", "", "a,b,c,d")]
    [InlineData("e", "", "")]
    [InlineData("c", "b", "")]
    [InlineData("c", "c", "")]
    [InlineData("x", "z", "")]
    public async Task SpansSelectTheirKeys(string start, string? end, string expected)
    {
        Log.Revision().Put("c", "3").Put("a", "1").Revision().Put("d", "4").Put("b", "2");
        await AppendLogAsync();

        var span = new KeySpan(LogModel.Bytes(start), end is null ? null : LogModel.Bytes(end));
        var result = await ReadAsync(span);

        var expectedKeys = expected.Length == 0 ? Array.Empty<string>() : expected.Split(',').Select(key => Show.Hex(LogModel.Bytes(key))).ToArray();
        Assert.Equal(string.Join(",", expectedKeys), Show.Keys(result));
        Assert.Equal(expectedKeys.Length, result.Count);
        Assert.False(result.More);
    }

    /// <summary>Five live keys k1..k5 and a deleted k0; the limit cuts the result but not the count.</summary>
    [Theory]
    [InlineData(0, 5, false)]
    [InlineData(-1, 5, false)]
    [InlineData(1, 1, true)]
    [InlineData(2, 2, true)]
    [InlineData(4, 4, true)]
    [InlineData(5, 5, false)]
    [InlineData(6, 5, false)]
    public async Task LimitCutsKeysButCountIsExact(long limit, int expectedKvs, bool expectedMore)
    {
        Log.Revision().Put("k0", "0").Put("k3", "3").Put("k1", "1").Revision().Put("k5", "5").Put("k2", "2").Put("k4", "4");
        Log.Revision().Delete("k0");
        await AppendLogAsync();

        var result = await ReadAsync(All, limit: limit);

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Equal(
            Enumerable.Range(1, expectedKvs).Select(i => Show.Hex(LogModel.Bytes($"k{i}"))),
            result.Kvs.Select(kv => Show.Hex(kv.Key)));
        Assert.Equal(5, result.Count);
        Assert.Equal(expectedMore, result.More);
    }

    [Fact]
    public async Task LimitAppliesAtOlderRevisions()
    {
        Log.Revision().Put("a", "1").Put("b", "1").Put("c", "1").Revision().Delete("b").Put("d", "2");
        await AppendLogAsync();

        var old = await ReadAsync(All, revision: 2, limit: 2);
        var latest = await ReadAsync(All, revision: 3, limit: 2);

        Assert.Equal((3L, true), (old.Count, old.More));
        Assert.Equal(Show.Hex(LogModel.Bytes("a")) + "," + Show.Hex(LogModel.Bytes("b")), Show.Keys(old));
        Assert.Equal((3L, true), (latest.Count, latest.More));
        Assert.Equal(Show.Hex(LogModel.Bytes("a")) + "," + Show.Hex(LogModel.Bytes("c")), Show.Keys(latest));
    }

    [Theory]
    [InlineData(0, 0, 4)]
    [InlineData(0, 2, 4)]
    [InlineData(2, 0, 3)]
    [InlineData(3, 1, 2)]
    public async Task CountOnlyReturnsTheCountAlone(long revision, long limit, long expectedCount)
    {
        Log.Revision().Put("a", "1").Put("b", "1").Put("c", "1").Revision().Delete("b");
        Log.Revision().Put("d", "1").Put("e", "1");
        await AppendLogAsync();

        var result = await ReadAsync(All, revision, limit, countOnly: true);

        Assert.Equal($"Ok count={expectedCount} more=False []", Show.Range(result));
    }

    [Fact]
    public async Task KeysCompareAsUnsignedBytes()
    {
        byte[][] sorted =
        [
            [0x00], [0x00, 0x00], [0x01], [0x61], [0x61, 0x00], [0x61, 0x00, 0x00], [0x61, 0x62],
            [0x7F], [0x80], [0xC3, 0xA4], [0xFF], [0xFF, 0x00], [0xFF, 0xFF],
        ];
        Log.Revision();
        for (var i = 0; i < sorted.Length; i++)
        {
            var key = sorted[i * 5 % sorted.Length];
            Log.Put(key, key);
        }
        await AppendLogAsync();

        Assert.Equal(string.Join(",", sorted.Select(Show.Hex)), Show.Keys(await ReadAsync(All)));
        await AssertKeysAsync(new([0x7F], [0x81]), "7F,80");
        await AssertKeysAsync(new([0x80], [0xFF]), "80,C3A4");
        await AssertKeysAsync(new([0xFF], []), "FF,FF00,FFFF");
        await AssertKeysAsync(new([0x00], [0x01]), "00,0000");
        await AssertKeysAsync(new([0x61], [0x61, 0x00]), "61");
        await AssertKeysAsync(new([0x61, 0x00], [0x62]), "6100,610000,6162");
        await AssertKeysAsync(KeySpan.Single([0x00]), "00");
        await AssertKeysAsync(KeySpan.Single([0x61, 0x00]), "6100");
        await AssertKeysAsync(new([0x00, 0x00], [0xFF, 0x00]), "0000,01,61,6100,610000,6162,7F,80,C3A4,FF");
    }

    [Fact]
    public async Task RevisionsOutsideTheWindowAreRefused()
    {
        await WriteRandomHistoryAsync(seed: 3, revisions: 6);
        Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(Opened.Epoch, 4, None));

        Assert.Equal(KvStatus.FutureRevision, (await ReadAsync(All, revision: 8)).Status);
        Assert.Equal(KvStatus.FutureRevision, (await ReadAsync(All, revision: 8, countOnly: true)).Status);
        Assert.Equal(KvStatus.Compacted, (await ReadAsync(All, revision: 3)).Status);
        Assert.Equal(KvStatus.Compacted, (await ReadAsync(All, revision: 1)).Status);
        Assert.Equal(KvStatus.Compacted, (await ReadAsync(KeySpan.Single(LogModel.Bytes("/a")), revision: 3, countOnly: true)).Status);
        await AssertReadMatchesModelAsync(All, 4);
        await AssertReadMatchesModelAsync(All, 7);
        await AssertReadMatchesModelAsync(All, Log.CurrentRevision);
        Assert.Equal(Show.Range(await ReadAsync(All, revision: 7)), Show.Range(await ReadAsync(All, revision: 0)));
    }

    [Fact]
    public async Task AppendUnderAnotherEpochIsFencedAndWritesNothing()
    {
        Log.Revision().Put("a", "1").Revision().Put("b", "2");
        var batch = Log.TakeBatch(Opened.Epoch);

        await Assert.ThrowsAsync<StoreFencedException>(() => Store.AppendAsync(batch with { Epoch = Opened.Epoch + 1 }, None));
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.AppendAsync(batch with { Epoch = Opened.Epoch - 1 }, None));

        Assert.Equal(KvStatus.FutureRevision, (await ReadAsync(All, revision: 2)).Status);
        Assert.Empty((await Store.ReadRevisionsAsync(1, 10, None)).Rows);
        await Store.AppendAsync(batch, None);
        await AssertReadMatchesModelAsync(All, 3);
    }

    [Fact]
    public async Task AppendNotFollowingTheCurrentRevisionIsFenced()
    {
        Log.Revision().Put("a", "1");
        var first = Log.TakeBatch(Opened.Epoch);
        await Store.AppendAsync(first, None);
        Log.Revision().Put("b", "2");
        var second = Log.TakeBatch(Opened.Epoch);
        Log.Revision().Put("c", "3");
        var third = Log.TakeBatch(Opened.Epoch);

        await Assert.ThrowsAsync<StoreFencedException>(() => Store.AppendAsync(third, None));
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.AppendAsync(first, None));

        Assert.Equal(KvStatus.FutureRevision, (await ReadAsync(All, revision: 3)).Status);
        Assert.Equal(Show.Rows(Log.RowsBetween(2, 2)), Show.Rows((await Store.ReadRevisionsAsync(1, 10, None)).Rows));
        await Store.AppendAsync(second, None);
        await Store.AppendAsync(third, None);
        await AssertReadMatchesModelAsync(All, 4);
    }

    [Fact]
    public async Task EachOpenTakesTheNextEpochAndFencesTheOlderOnes()
    {
        Log.Revision().Put("a", "1");
        await AppendLogAsync();
        Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(Opened.Epoch, 2, None));

        var second = await Store.OpenAsync(LeaseDuration, None);
        var third = await Store.OpenAsync(LeaseDuration, None);

        Assert.Equal(new StoreMetadata(2, 2, Opened.Epoch + 1), second);
        Assert.Equal(new StoreMetadata(2, 2, Opened.Epoch + 2), third);
        Log.Revision().Put("b", "2");
        var batch = Log.TakeBatch(second.Epoch);
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.AppendAsync(batch, None));
        await Store.AppendAsync(batch with { Epoch = third.Epoch }, None);
        await AssertReadMatchesModelAsync(All, 3);
    }

    public static TheoryData<string> MalformedBatches =>
    [
        "empty", "gap", "sub starts at 1", "sub skips", "last too high", "last too low", "starts late",
        "tombstone replacing nothing", "first version replacing something", "later version replacing nothing", "replacing its own revision",
    ];

    /// <summary>
    /// A newer open waits out the older epoch's time lease, which the older epoch can no longer renew; a released
    /// lease is not waited for.
    /// </summary>
    [Fact]
    public async Task AnOpenWaitsOutThePredecessorsLeaseUnlessItWasReleased()
    {
        var lease = TimeSpan.FromSeconds(1);
        var clock = Stopwatch.StartNew();
        await Store.RenewLeaseAsync(Opened.Epoch, lease, None);

        var second = await Store.OpenAsync(lease, None);

        Assert.InRange(clock.Elapsed, lease - TimeSpan.FromMilliseconds(50), TimeSpan.MaxValue);
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.RenewLeaseAsync(Opened.Epoch, lease, None));
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.ReleaseLeaseAsync(Opened.Epoch, None));
        Log.Revision().Put("a", "1");
        await Store.AppendAsync(Log.TakeBatch(second.Epoch), None);
        await Store.ReleaseLeaseAsync(second.Epoch, None);
        clock.Restart();
        var third = await Store.OpenAsync(lease, None);
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, lease / 2);
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.RenewLeaseAsync(second.Epoch, lease, None));
        await Store.RenewLeaseAsync(third.Epoch, lease, None);
    }

    /// <summary>
    /// Every sequencer write is fenced by the epoch it names: after a newer open, each one under the older epoch is
    /// refused and changes nothing, and each one under the newer epoch works.
    /// </summary>
    [Fact]
    public async Task EveryWriteUnderAnOlderEpochIsFencedAndChangesNothing()
    {
        Log.Revision().Put("a", "1").Revision().Put("a", "2").Revision().Put("a", "3").Revision().Put("a", "4");
        await AppendLogAsync();
        Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(Opened.Epoch, 4, None));
        Assert.Equal(1, await Store.ClaimRangeAsync(Opened.Epoch, "/r", None));
        Assert.True(await Store.GrantLeaseAsync(Opened.Epoch, new StoredLease(1, 10, 10), None));
        var old = Opened.Epoch;

        var current = (await Store.OpenAsync(LeaseDuration, None)).Epoch;

        await Assert.ThrowsAsync<StoreFencedException>(() => Store.SetCompactRevisionAsync(old, 5, None));
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.SetCompactRevisionAsync(old, 3, None));
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.PurgeAsync(old, 100, None));
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.ClaimRangeAsync(old, "/r", None));
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.ClaimRangeAsync(old, "/s", None));
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.GrantLeaseAsync(old, new StoredLease(2, 10, 10), None));
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.RevokeLeaseAsync(old, 1, None));
        await Assert.ThrowsAsync<StoreFencedException>(() => Store.GrantLeaseAsync(current + 1, new StoredLease(2, 10, 10), None));

        Assert.Equal(4, (await Store.ReadRevisionsAsync(4, 1, None)).CompactRevision);
        Assert.Equal([new RangeOwner("/r", 1)], await Store.ListRangesAsync(None));
        Assert.Equal([new StoredLease(1, 10, 10)], await Store.ListLeasesAsync(None));
        Assert.Equal(1, await Store.PurgeAsync(current, 100, None));
        Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(current, 5, None));
        Assert.Equal(2, await Store.ClaimRangeAsync(current, "/r", None));
        Assert.True(await Store.GrantLeaseAsync(current, new StoredLease(2, 10, 10), None));
        Assert.True(await Store.RevokeLeaseAsync(current, 1, None));
        Assert.Equal([new StoredLease(2, 10, 10)], await Store.ListLeasesAsync(None));
        await AssertReadMatchesModelAsync(All, 5);
    }

    [Theory]
    [MemberData(nameof(MalformedBatches))]
    public async Task MalformedBatchesAreRefusedBeforeWriting(string malformation)
    {
        Log.Revision().Put("a", "1").Put("b", "1").Revision().Put("c", "1");
        var batch = Log.TakeBatch(Opened.Epoch);
        var rows = batch.Rows;
        var malformed = malformation switch
        {
            "empty" => batch with { Rows = [] },
            "gap" => batch with { Rows = [rows[0], rows[1], rows[2] with { Revision = 4 }], LastRevision = 4 },
            "sub starts at 1" => batch with { Rows = [rows[0] with { Sub = 1 }, rows[1] with { Sub = 2 }, rows[2]] },
            "sub skips" => batch with { Rows = [rows[0], rows[1] with { Sub = 2 }, rows[2]] },
            "last too high" => batch with { LastRevision = 4 },
            "last too low" => batch with { LastRevision = 2 },
            "tombstone replacing nothing" => batch with { Rows = [rows[0], rows[1], rows[2] with { Tombstone = true, CreateRevision = 0, Version = 0, Value = [] }] },
            "first version replacing something" => batch with { Rows = [rows[0], rows[1], rows[2] with { PrevRevision = 2 }] },
            "later version replacing nothing" => batch with { Rows = [rows[0], rows[1], rows[2] with { Version = 2 }] },
            "replacing its own revision" => batch with { Rows = [rows[0], rows[1], rows[2] with { Version = 2, PrevRevision = 3 }] },
            _ => batch with { FirstRevision = 3 },
        };

        await Assert.ThrowsAsync<ArgumentException>(() => Store.AppendAsync(malformed, None));

        Assert.Equal(KvStatus.FutureRevision, (await ReadAsync(All, revision: 2)).Status);
        await Store.AppendAsync(batch, None);
        await AssertReadMatchesModelAsync(All, 3);
    }

    [Fact]
    public async Task ABatchOfManyRevisionsIsAppendedWhole()
    {
        for (var i = 0; i < 100; i++)
        {
            Log.Revision().Put($"k{i % 7}", $"{i}").Put($"m{i % 5}", $"{i}");
            if (Log.IsLive($"k{(i + 3) % 7}") && i % 3 == 0)
            {
                Log.Delete($"k{(i + 3) % 7}");
            }
        }
        await AppendLogAsync();

        Assert.Equal(101, Log.CurrentRevision);
        Assert.Equal(Show.Rows(Log.Rows), Show.Rows((await Store.ReadRevisionsAsync(2, 1000, None)).Rows));
        for (var revision = 1; revision <= Log.CurrentRevision; revision++)
        {
            await AssertReadMatchesModelAsync(All, revision);
        }
    }

    [Fact]
    public async Task ReadRevisionsReturnsWholeRevisionsInOrderWithinBounds()
    {
        await WriteRandomHistoryAsync(seed: 11, revisions: 5);

        Assert.Equal(Show.Rows(Log.RowsBetween(3, 4)), Show.Rows((await Store.ReadRevisionsAsync(3, 2, None)).Rows));
        Assert.Equal(Show.Rows(Log.RowsBetween(5, 6)), Show.Rows((await Store.ReadRevisionsAsync(5, 100, None)).Rows));
        Assert.Equal(Show.Rows(Log.RowsBetween(2, 2)), Show.Rows((await Store.ReadRevisionsAsync(0, 3, None)).Rows));
        Assert.Equal(Show.Rows(Log.RowsBetween(6, 6)), Show.Rows((await Store.ReadRevisionsAsync(6, 1, None)).Rows));
        var beyond = await Store.ReadRevisionsAsync(7, 10, None);
        Assert.Equal(KvStatus.Ok, beyond.Status);
        Assert.Empty(beyond.Rows);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.ReadRevisionsAsync(2, 0, None));

        Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(Opened.Epoch, 4, None));
        var compacted = await Store.ReadRevisionsAsync(3, 1, None);
        Assert.Equal((KvStatus.Compacted, 4L), (compacted.Status, compacted.CompactRevision));
        Assert.Empty(compacted.Rows);
        var atCompaction = await Store.ReadRevisionsAsync(4, 1, None);
        Assert.Equal((KvStatus.Ok, 4L), (atCompaction.Status, atCompaction.CompactRevision));
        Assert.Equal(Show.Rows(Log.RowsBetween(4, 4)), Show.Rows(atCompaction.Rows));
    }

    [Fact]
    public async Task ReadRevisionsJoinsEachRowToTheVersionItReplacedEvenBelowTheCompactionRevision()
    {
        Log.Revision().Put("/a", "a1", lease: 7).Put("/b", "b1");
        Log.Revision().Put("/a", "a2");
        Log.Revision().Delete("/a");
        Log.Revision().Put("/a", "a3").Put("/b", "b2");
        await AppendLogAsync();
        Assert.Equal(
            ["/a:-", "/b:-", "/a:a1@2 create 2 version 1 lease 7"],
            await DescribeAsync(2, 2));

        Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(Opened.Epoch, 4, None));
        await PurgeAllAsync(maxRows: 1);
        Assert.Equal(
            ["/a:a2@3 create 2 version 2 lease 0", "/a:-", "/b:b1@2 create 2 version 1 lease 0"],
            await DescribeAsync(4, 10));

        async Task<List<string>> DescribeAsync(long from, int count)
        {
            var read = await Store.ReadRevisionsAsync(from, count, None);
            Assert.Equal(read.Rows.Count, read.Prevs.Count);
            return [.. read.Rows.Select((row, i) => $"{Encoding.UTF8.GetString(row.Key)}:{Describe(read.Prevs[i])}")];
        }

        static string Describe(KeyValue? kv) =>
            kv is null ? "-" : $"{Encoding.UTF8.GetString(kv.Value)}@{kv.ModRevision} create {kv.CreateRevision} version {kv.Version} lease {kv.Lease}";
    }

    [Fact]
    public async Task ReadValuesAnswersEachVersionInTheOrderAskedAndNullForOnesNotHeld()
    {
        Log.Revision().Put("/a", "a1").Put("/b", "b1");
        Log.Revision().Put("/a", "a2");
        Log.Revision().Put(LogModel.Bytes("/e"), []).Put([0x00, 0xFF], [0x00, 0x01, 0xFE, 0xFF]);
        Log.Revision().Put("/a", "a3");
        await AppendLogAsync();
        KeyRevision Version(string key, long revision) => new(LogModel.Bytes(key), revision);

        var values = await Store.ReadValuesAsync(
            [Version("/a", 3), Version("/b", 2), Version("/a", 2), Version("/a", 4), Version("/e", 4), new([0x00, 0xFF], 4), Version("/b", 3), Version("/a", 9)],
            None);

        Assert.Equal(
            ["a2", "b1", "a1", "-", "", "00-01-FE-FF", "-", "-"],
            values.Select(v => v is null ? "-" : v.Length == 4 ? BitConverter.ToString(v) : Encoding.UTF8.GetString(v)));
        Assert.Empty(await Store.ReadValuesAsync([], None));

        Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(Opened.Epoch, 5, None));
        await PurgeAllAsync(maxRows: 100);
        Assert.Equal(["-", "a2", "a3"], (await Store.ReadValuesAsync([Version("/a", 2), Version("/a", 3), Version("/a", 5)], None)).Select(v => v is null ? "-" : Encoding.UTF8.GetString(v)));
    }

    [Fact]
    public async Task RowsRoundTripEveryField()
    {
        Log.Revision().Put(LogModel.Bytes("/empty"), [], lease: 42).Put([0x00, 0xFF, 0x00], [0x00, 0x01, 0xFE, 0xFF]);
        Log.Revision().Delete("/empty");
        var batch = Log.TakeBatch(Opened.Epoch);
        var rows = batch.Rows.Select((row, i) => row with { RangeId = i == 1 ? "räng-✓" : "", RangeEpoch = i + 5 }).ToList();

        await Store.AppendAsync(batch with { Rows = rows }, None);

        Assert.Equal(Show.Rows(rows), Show.Rows((await Store.ReadRevisionsAsync(2, 2, None)).Rows));
        var empty = Assert.Single((await ReadAsync(KeySpan.Single(LogModel.Bytes("/empty")), revision: 2)).Kvs);
        Assert.NotNull(empty.Value);
        Assert.Empty(empty.Value);
        Assert.Equal(42, empty.Lease);
    }

    [Fact]
    public async Task CompactRevisionFollowsEtcdRules()
    {
        Assert.Equal(KvStatus.Compacted, await Store.SetCompactRevisionAsync(Opened.Epoch, 0, None));
        Assert.Equal(KvStatus.FutureRevision, await Store.SetCompactRevisionAsync(Opened.Epoch, 2, None));
        Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(Opened.Epoch, 1, None));
        await WriteRandomHistoryAsync(seed: 5, revisions: 4);

        Assert.Equal(KvStatus.Compacted, await Store.SetCompactRevisionAsync(Opened.Epoch, 1, None));
        Assert.Equal(KvStatus.FutureRevision, await Store.SetCompactRevisionAsync(Opened.Epoch, 6, None));
        Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(Opened.Epoch, 3, None));
        Assert.Equal(KvStatus.Compacted, await Store.SetCompactRevisionAsync(Opened.Epoch, 3, None));
        Assert.Equal(KvStatus.Compacted, await Store.SetCompactRevisionAsync(Opened.Epoch, 2, None));
        Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(Opened.Epoch, 5, None));

        Assert.Equal(5, (await Store.ReadRevisionsAsync(5, 1, None)).CompactRevision);
        Assert.Equal(new StoreMetadata(5, 5, Opened.Epoch + 1), await Store.OpenAsync(LeaseDuration, None));
        await AssertReadMatchesModelAsync(All, 5);
    }

    [Fact]
    public async Task PurgeKeepsExactlyWhatReadsAtOrAboveTheCompactionRevisionNeed()
    {
        await WriteRandomHistoryAsync(seed: 1, revisions: 60);
        const long compaction = 30;
        var before = await ReadEverythingFromAsync(compaction);
        Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(Opened.Epoch, compaction, None));

        var removed = await PurgeAllAsync(maxRows: 3);

        Assert.Equal(Log.PurgeableAt(compaction), removed);
        Assert.True(removed > 10, $"The history should leave rows to purge; it left {removed}.");
        Assert.Equal(before, await ReadEverythingFromAsync(compaction));

        await WriteRandomHistoryAsync(seed: 2, revisions: 20);
        var laterCompaction = Log.CurrentRevision - 5;
        var laterBefore = await ReadEverythingFromAsync(laterCompaction);
        Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(Opened.Epoch, laterCompaction, None));

        var laterRemoved = await PurgeAllAsync(maxRows: 5);

        Assert.Equal(Log.PurgeableAt(laterCompaction) - removed, laterRemoved);
        Assert.Equal(laterBefore, await ReadEverythingFromAsync(laterCompaction));
        Assert.Equal(0, await Store.PurgeAsync(Opened.Epoch, 100, None));
    }

    [Fact]
    public async Task PurgeKeepsTheEventsAtTheCompactionRevisionAndTheVersionsTheyReplace()
    {
        Log.Revision().Put("a", "1").Revision().Put("a", "2").Revision().Delete("a").Put("b", "1").Revision().Put("b", "2");
        await AppendLogAsync();
        Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(Opened.Epoch, 4, None));

        Assert.Equal(1, await PurgeAllAsync(maxRows: 100));

        Assert.Equal(Show.Rows(Log.RowsBetween(4, 5)), Show.Rows((await Store.ReadRevisionsAsync(4, 10, None)).Rows));
        await AssertReadMatchesModelAsync(All, 4);
        Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(Opened.Epoch, 5, None));
        Assert.Equal(2, await PurgeAllAsync(maxRows: 100));
        Assert.Equal(Show.Rows(Log.RowsBetween(5, 5)), Show.Rows((await Store.ReadRevisionsAsync(5, 10, None)).Rows));
        await AssertReadMatchesModelAsync(All, 5);
    }

    [Fact]
    public async Task PurgeInSingleRowBatchesNeverResurrectsADeletedKey()
    {
        Log.Revision().Put("a", "1").Revision().Put("a", "2").Revision().Delete("a").Revision().Put("b", "1").Revision().Put("b", "2");
        await AppendLogAsync();
        Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(Opened.Epoch, 5, None));

        var removed = 0;
        while (await Store.PurgeAsync(Opened.Epoch, 1, None) is var batch && batch > 0)
        {
            Assert.Equal(1, batch);
            removed += batch;
            await AssertReadMatchesModelAsync(All, 5);
            await AssertReadMatchesModelAsync(KeySpan.Single(LogModel.Bytes("a")), 5);
        }

        Assert.Equal(3, removed);
        Assert.Equal(Log.PurgeableAt(5), removed);
    }

    [Fact]
    public async Task PurgeBeforeAnyCompactionRemovesNothing()
    {
        await WriteRandomHistoryAsync(seed: 9, revisions: 10);

        Assert.Equal(0, await Store.PurgeAsync(Opened.Epoch, 100, None));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.PurgeAsync(Opened.Epoch, 0, None));
        Assert.Equal(Show.Rows(Log.Rows), Show.Rows((await Store.ReadRevisionsAsync(0, 100, None)).Rows));
    }

    [Fact]
    public async Task ClaimsNumberEpochsPerRange()
    {
        Assert.Empty(await Store.ListRangesAsync(None));

        long[] epochs =
        [
            await Store.ClaimRangeAsync(Opened.Epoch, "/registry/pods/", None),
            await Store.ClaimRangeAsync(Opened.Epoch, "/registry/leases/", None),
            await Store.ClaimRangeAsync(Opened.Epoch, "/registry/pods/", None),
            await Store.ClaimRangeAsync(Opened.Epoch, "/registry/pods/", None),
            await Store.ClaimRangeAsync(Opened.Epoch, "/registry/leases/", None),
            await Store.ClaimRangeAsync(Opened.Epoch, "/Z", None),
        ];

        Assert.Equal(new long[] { 1, 1, 2, 3, 2, 1 }, epochs);
        Assert.Equal(
            new RangeOwner[] { new("/Z", 1), new("/registry/leases/", 2), new("/registry/pods/", 3) },
            await Store.ListRangesAsync(None));
    }

    [Fact]
    public async Task SizeGrowsWithTheData()
    {
        var empty = await Store.SizeAsync(None);
        Log.Revision();
        for (var i = 0; i < 64; i++)
        {
            Log.Put($"/big/{i}", new string('x', 1024));
        }
        await AppendLogAsync();

        Assert.True(await Store.SizeAsync(None) >= empty + (64 * 1024));
    }

    [Fact]
    public async Task GrantedLeasesAreListedInIdOrder_AndATakenIdIsRefused()
    {
        Assert.Empty(await Store.ListLeasesAsync(None));

        Assert.True(await Store.GrantLeaseAsync(Opened.Epoch, new StoredLease(50, 10, 10), None));
        Assert.True(await Store.GrantLeaseAsync(Opened.Epoch, new StoredLease(3, 3660, 3660), None));
        Assert.True(await Store.GrantLeaseAsync(Opened.Epoch, new StoredLease(long.MaxValue, 2, 2), None));
        Assert.True(await Store.GrantLeaseAsync(Opened.Epoch, new StoredLease(-4, 15, 15), None));
        Assert.False(await Store.GrantLeaseAsync(Opened.Epoch, new StoredLease(50, 99, 99), None));

        Assert.Equal(
            [new StoredLease(-4, 15, 15), new StoredLease(3, 3660, 3660), new StoredLease(50, 10, 10), new StoredLease(long.MaxValue, 2, 2)],
            await Store.ListLeasesAsync(None));
    }

    [Fact]
    public async Task RevokeRemovesOnlyThatLease_AndItsIdCanBeGrantedAgain()
    {
        Assert.True(await Store.GrantLeaseAsync(Opened.Epoch, new StoredLease(1, 10, 10), None));
        Assert.True(await Store.GrantLeaseAsync(Opened.Epoch, new StoredLease(2, 20, 20), None));

        Assert.True(await Store.RevokeLeaseAsync(Opened.Epoch, 1, None));
        Assert.False(await Store.RevokeLeaseAsync(Opened.Epoch, 1, None));
        Assert.False(await Store.RevokeLeaseAsync(Opened.Epoch, 7, None));

        Assert.Equal([new StoredLease(2, 20, 20)], await Store.ListLeasesAsync(None));
        Assert.True(await Store.GrantLeaseAsync(Opened.Epoch, new StoredLease(1, 30, 30), None));
        Assert.Equal([new StoredLease(1, 30, 30), new StoredLease(2, 20, 20)], await Store.ListLeasesAsync(None));
    }

    /// <summary>
    /// a and b are put with lease 5, c without, d with 6; then b is put again without a lease, d is deleted, e is
    /// put with lease 7 (never granted: the store does not care) and a is put again with lease 8.
    /// </summary>
    [Fact]
    public async Task LeasedKeysAreTheLiveKeysWhoseCurrentVersionCarriesALease()
    {
        Log.Revision().Put("b", "1", lease: 5).Put("a", "1", lease: 5).Put("c", "1").Put("d", "1", lease: 6);
        await AppendLogAsync();
        Assert.Equal(["5 61", "5 62", "6 64"], ShowLeased(await Store.ListLeasedKeysAsync(None)));

        Log.Revision().Put("b", "2").Delete("d").Revision().Put("e", "1", lease: 7).Revision().Put("a", "2", lease: 8);
        await AppendLogAsync();

        Assert.Equal(["8 61", "7 65"], ShowLeased(await Store.ListLeasedKeysAsync(None)));
        Assert.True(await Store.GrantLeaseAsync(Opened.Epoch, new StoredLease(8, 10, 10), None));
        Assert.True(await Store.RevokeLeaseAsync(Opened.Epoch, 8, None));
        Assert.Equal(["8 61", "7 65"], ShowLeased(await Store.ListLeasedKeysAsync(None)));
    }

    [Fact]
    public async Task LeasedKeysMatchTheModelAfterARandomHistoryAndAPurge()
    {
        await WriteRandomHistoryAsync(seed: 13, revisions: 40);
        Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(Opened.Epoch, 30, None));
        await PurgeAllAsync(maxRows: 7);

        var expected = Log.LiveAt(All, Log.CurrentRevision).Where(kv => kv.Lease != 0).Select(kv => new LeasedKey(kv.Lease, kv.Key));

        Assert.NotEmpty(expected);
        Assert.Equal(ShowLeased(expected), ShowLeased(await Store.ListLeasedKeysAsync(None)));
    }

    /// <summary>Each leased key as "lease hex-key".</summary>
    /// <summary>
    /// Reads of registry keys, of every span shape, at every third revision: the SQL stores search one key group's
    /// rows when the span lies in it (<see cref="KeyGroups"/>) and the whole log otherwise, at its edges too.
    /// </summary>
    [Fact]
    public async Task ReadsOfRegistryKeysMatchTheModelWhetherTheySearchOneKeyGroupOrTheLog()
    {
        string[] keys =
        [
            "/registry/pods/ns1/a", "/registry/pods/ns1/b", "/registry/pods/ns2/a", "/registry/pods", "/registry/pods0",
            "/registry/podsx/a", "/registry//x", "/registry/", "/registry/p\u00f6/x", "/registry/events/ns/e", "/other", "/zeta",
        ];
        var random = new Random(7);
        for (var revision = 0; revision < 40; revision++)
        {
            Log.Revision();
            foreach (var key in keys.OrderBy(_ => random.Next()).Take(random.Next(1, 4)))
            {
                if (Log.IsLive(key) && random.Next(3) == 0)
                {
                    Log.Delete(key);
                }
                else
                {
                    Log.Put(key, $"{key}@{Log.CurrentRevision}");
                }
            }
        }
        await AppendLogAsync();
        KeySpan[] spans =
        [
            Interval("/registry/pods/", "/registry/pods0"), Interval("/registry/pods/ns1/", "/registry/pods/ns10"),
            Interval("/registry/pods/ns1/b", "/registry/pods/ns2/b"), Interval("/registry/pods/", "/registry/pods1"),
            Interval("/registry/pods/", ""), Interval("/registry/", "/registry0"), Interval("/registry//", "/registry/0"),
            Interval("/registry/p\u00f6/", "/registry/p\u00f60"), Interval("", ""), Interval("", "/registry/"),
            Interval("/o", "/registry/"), Interval("/registry0", ""), Interval("/registry", "/registry0"),
            .. keys.Select(key => KeySpan.Single(LogModel.Bytes(key))),
        ];

        foreach (var span in spans)
        {
            for (var revision = 2L; revision <= Log.CurrentRevision; revision += 3)
            {
                await AssertReadMatchesModelAsync(span, revision);
                Assert.Equal(Log.LiveAt(span, revision).Count, (await ReadAsync(span, revision, countOnly: true)).Count);
                var limited = await ReadAsync(span, revision, limit: 1);
                Assert.Equal(Log.LiveAt(span, revision).Take(1).Select(kv => kv.ModRevision), limited.Kvs.Select(kv => kv.ModRevision));
            }
        }
    }

    protected static KeySpan Interval(string start, string end) => new(LogModel.Bytes(start), LogModel.Bytes(end));

    protected static List<string> ShowLeased(IEnumerable<LeasedKey> keys) => [.. keys.Select(k => $"{k.Lease} {Show.Hex(k.Key)}")];

    /// <summary>
    /// A writer appends batches of five revisions that each rewrite all eight keys with the revision as value,
    /// and after each batch compacts to the revision before its last and purges, so the rows of every older
    /// revision disappear soon after they are read. A reader checks meanwhile that every read is one snapshot:
    /// a whole number of batches with all keys at one revision, and a pinned read either exact or Compacted.
    /// </summary>
    [Fact]
    public async Task ConcurrentReadsSeeWholeBatchesAndConsistentSnapshots()
    {
        const int keys = 8;
        const int revisionsPerBatch = 5;
        var epoch = Opened.Epoch;
        async Task AppendBatchAsync()
        {
            for (var i = 0; i < revisionsPerBatch; i++)
            {
                Log.Revision();
                for (var key = 0; key < keys; key++)
                {
                    Log.Put($"/k{key}", $"{Log.CurrentRevision}");
                }
            }
            await Store.AppendAsync(Log.TakeBatch(epoch), None);
        }
        await AppendBatchAsync();
        var writer = Task.Run(async () =>
        {
            for (var batch = 0; batch < 300; batch++)
            {
                await AppendBatchAsync();
                Assert.Equal(KvStatus.Ok, await Store.SetCompactRevisionAsync(Opened.Epoch, Log.CurrentRevision - 1, None));
                await PurgeAllAsync(maxRows: 1000);
            }
        });
        var reader = Task.Run(async () =>
        {
            var reads = 0;
            do
            {
                var latest = await ReadAsync(All);
                Assert.Equal((KvStatus.Ok, (long)keys), (latest.Status, latest.Count));
                var revision = latest.Kvs[0].ModRevision;
                Assert.Equal(0, (revision - 1) % revisionsPerBatch);
                Assert.All(latest.Kvs, kv => Assert.Equal((revision, $"{revision}"), (kv.ModRevision, Encoding.UTF8.GetString(kv.Value))));

                var pinned = await ReadAsync(All, revision, limit: 3);
                if (pinned.Status != KvStatus.Compacted)
                {
                    Assert.Equal((KvStatus.Ok, (long)keys, true, 3), (pinned.Status, pinned.Count, pinned.More, pinned.Kvs.Count));
                    Assert.All(pinned.Kvs, kv => Assert.Equal(revision, kv.ModRevision));
                }
                var rows = await Store.ReadRevisionsAsync(revision, 1, None);
                if (rows.Status != KvStatus.Compacted)
                {
                    Assert.Equal(Enumerable.Range(0, keys).Select(sub => (revision, sub)), rows.Rows.Select(row => (row.Revision, row.Sub)));
                }
                reads++;
            }
            while (!writer.IsCompleted);
            return reads;
        });

        await writer;
        Assert.True(await reader > 0);
        await AssertReadMatchesModelAsync(All, Log.CurrentRevision);
    }

    private async Task AssertKeysAsync(KeySpan span, string expectedHexKeys)
    {
        var result = await ReadAsync(span);
        Assert.Equal(expectedHexKeys, Show.Keys(result));
        Assert.Equal(expectedHexKeys.Split(',').Length, result.Count);
    }
}

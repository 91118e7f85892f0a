using System.Text;
using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Interfaces.Model;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static KubeBrain.Tests.Watch.WatchKit;

namespace KubeBrain.Tests.Watch;

/// <summary>
/// The frontend hosted in a silo takes revisions from two sources, the sequencer's in-process announcements and the
/// watch feed, and must take each revision once and none ahead of a gap. The tests announce a forged revision, which
/// shows which source a watcher's event came from.
/// </summary>
public sealed class LocalCommitsTests
{
    [Fact]
    public async Task AnAnnouncedRevisionThatContinuesTheHub_IsDelivered_AndTheFeedsCopyIsNotRepeated()
    {
        await using var target = await WatchTarget.StartKubeBrainAsync();
        var p = NewPrefix("announced");
        await using var session = target.Open();
        var id = (await session.CreateAsync(OnPrefix(p))).WatchId;
        var first = await PutAsync(target.Kv, p + "a", "1");
        await session.ReadEventsAsync(id, 1);

        Announce(target, first + 1, p + "forged");
        var forged = await session.ReadEventsAsync(id, 1);
        await PutAsync(target.Kv, p + "b", "1");
        var third = await PutAsync(target.Kv, p + "c", "1");
        var after = await session.ReadEventsAsync(id, 1);

        Assert.Equal((p + "forged", first + 1), (S(forged[0].Kv.Key), forged[0].Kv.ModRevision));
        Assert.Equal((p + "c", third), (S(after[0].Kv.Key), after[0].Kv.ModRevision));
    }

    [Fact]
    public async Task AnAnnouncementAheadOfAGap_IsNotDelivered_AndTheFeedFillsTheGap()
    {
        await using var target = await WatchTarget.StartKubeBrainAsync();
        var p = NewPrefix("gap");
        await using var session = target.Open();
        var id = (await session.CreateAsync(OnPrefix(p))).WatchId;
        var first = await PutAsync(target.Kv, p + "a", "1");
        await session.ReadEventsAsync(id, 1);

        Announce(target, first + 3, p + "forged");
        var keys = new[] { p + "b", p + "c", p + "d" };
        foreach (var key in keys)
        {
            await PutAsync(target.Kv, key, "1");
        }
        var events = await session.ReadEventsAsync(id, 3);

        Assert.Equal(keys.Zip([first + 1, first + 2, first + 3]), events.Select(e => (S(e.Kv.Key), e.Kv.ModRevision)));
    }

    /// <summary>Announces, as the sequencer would, a revision that puts <paramref name="key"/>.</summary>
    private static void Announce(WatchTarget target, long revision, string key)
    {
        var kv = new KeyValue(Encoding.UTF8.GetBytes(key), revision, revision, 1, Encoding.UTF8.GetBytes("forged"), 0);
        target.Host!.Services.GetRequiredService<LocalCommits>().Publish([new FeedItem(revision, [new WatchEvent(false, kv, null)], 0)]);
    }
}

using KubeBrain.Grains.Mvcc;
using Xunit;

namespace KubeBrain.Tests.Grains;

/// <summary>
/// A key's history against a plain list of its versions, through random puts, deletes, commits, roll-backs of
/// pending versions and compactions: after every step both answer the same reads at every revision, and a
/// compaction reports exactly the versions it dropped.
/// </summary>
public sealed class KeyHistoryTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void AnswersWhatTheListOfItsVersionsAnswers(int seed)
    {
        var random = new Random(seed);
        var key = "/registry/pods/default/web"u8.ToArray();
        var history = new KeyHistory(key);
        var model = new List<KeyVersion>();
        long revision = 0;
        long compacted = 0;
        for (var step = 0; step < 5_000; step++)
        {
            switch (random.Next(6))
            {
                case 0 or 1:
                    var live = model.Count > 0 && !model[^1].Tombstone ? model[^1] : null;
                    Add(live is not null && random.Next(3) == 0
                        ? KeyVersion.NewTombstone(live, live.Value!)
                        : KeyVersion.NewPut(key, [(byte)step], 0, live, live?.Value ?? []));
                    break;
                case 2:
                    foreach (var pending in model.Where(v => v.IsPending))
                    {
                        pending.Revision = ++revision;
                    }
                    break;
                case 3:
                    history.RemovePending();
                    model.RemoveAll(v => v.IsPending);
                    break;
                case 4 when revision > compacted:
                    compacted = random.NextInt64(compacted, revision + 1);
                    var dropped = new List<KeyVersion>();
                    history.Compact(compacted, dropped.Add);
                    var before = model.ToList();
                    Compact(model, compacted);
                    Assert.Equal(before.Except(model), dropped);
                    break;
            }
            Assert.Equal(model.Count, history.Count);
            Assert.Same(model.Count > 0 && !model[^1].Tombstone ? model[^1] : null, history.LatestLive);
            for (var at = compacted; at <= revision + 1; at++)
            {
                Assert.Same(LiveAt(model, at), history.LiveAt(at));
            }
        }

        void Add(KeyVersion version)
        {
            history.Add(version);
            model.Add(version);
        }
    }

    private static KeyVersion? LiveAt(List<KeyVersion> versions, long revision) =>
        versions.LastOrDefault(v => !v.IsPending && v.Revision <= revision) is { Tombstone: false } v ? v : null;

    private static void Compact(List<KeyVersion> versions, long compactRevision)
    {
        var keepFrom = versions.FindLastIndex(v => !v.IsPending && v.Revision <= compactRevision);
        if (keepFrom >= 0)
        {
            versions.RemoveRange(0, versions[keepFrom].Tombstone ? keepFrom + 1 : keepFrom);
        }
    }
}

using Google.Protobuf;
using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Sequencer;
using KubeBrain.Silo;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using Xunit.Abstractions;
using static KubeBrain.Tests.Watch.WatchKit;

namespace KubeBrain.Tests.Watch;

/// <summary>
/// Watches survive the deactivation of the grain that feeds them (I5): while writes go on, the
/// RevisionSequencerGrain — the source of every frontend's watch feed — is deactivated twice through Orleans'
/// management grain; each time a new activation must start (its "Sequencer activated" log event), and afterwards
/// every watcher, synced or catching up, must have every revision of its span exactly once, in order.
/// </summary>
public sealed class WatchFailoverTests(ITestOutputHelper output)
{
    private const int SequencerActivated = 2101;

    [Theory]
    [InlineData(StorageKind.Memory)]
    [InlineData(StorageKind.Sqlite)]
    public async Task WatchersSurviveSequencerDeactivation_WithoutLossOrDuplicates(StorageKind storage)
    {
        await using var target = await WatchTarget.StartKubeBrainAsync(storage);
        var host = target.Host!;
        var grains = host.Services.GetRequiredService<IGrainFactory>();
        var sequencer = grains.GetGrain<IRevisionSequencerGrain>(0);
        var category = typeof(RevisionSequencerGrain).FullName!;
        var kv = target.Kv;
        var first = await CurrentRevisionAsync(kv) + 1;
        await using var observation = new WatchObservation(target, streams: 3);
        var workload = new WatchWorkload();
        var random = new Random(17);
        ByteString[][] spans =
        [
            [B("/registry/"), PrefixEnd("/registry/")],
            [B("/registry/pods/"), PrefixEnd("/registry/pods/")],
            [B("/plain/"), PrefixEnd("/plain/")],
            [ByteString.CopyFrom(0), ByteString.CopyFrom(0)],
        ];
        for (var i = 0; i < 6; i++)
        {
            await observation.CreateAsync(i % 3, spans[i % spans.Length][0], spans[i % spans.Length][1], 0, prevKv: i % 2 == 0);
        }
        await observation.WaitCreatedAsync(WatchSession.DefaultWait);
        var activations = target.Logs!.Count(category, SequencerActivated);
        Assert.True(activations >= 1, "the sequencer has not logged its activation");

        var writers = Task.WhenAll(Enumerable.Range(0, 4).Select(w => Task.Run(() => workload.RunWriterAsync(kv, 99 + w, w, 150))));
        for (var round = 1; round <= 2; round++)
        {
            await workload.Acks.WaitForAsync(round * 200, writers, TimeSpan.FromSeconds(30));
            // Watchers from the past join while the feed is about to break: they catch up through it.
            var current = await CurrentRevisionAsync(kv);
            for (var i = 0; i < 3; i++)
            {
                var span = spans[random.Next(spans.Length)];
                await observation.CreateAsync(i, span[0], span[1], random.NextInt64(first, current + 1), prevKv: random.Next(2) == 0);
            }
            var deactivating = System.Diagnostics.Stopwatch.StartNew();
            var acked = workload.Acks.Value;
            await grains.GetGrain<IManagementGrain>(0).DeactivateGrain(sequencer.GetGrainId(), CancellationToken.None);
            await target.Logs!.WaitForAsync(category, SequencerActivated, activations + round, TimeSpan.FromSeconds(30));
            output.WriteLine($"deactivation {round}: a new activation after {deactivating.ElapsedMilliseconds} ms, {workload.Acks.Value - acked} writes answered meanwhile");
        }
        await writers;
        var last = await CurrentRevisionAsync(kv);

        var history = await WatchHistory.ReadAsync(kv, first, last);
        var problems = history.CheckAgainst(workload.Acked, workload.Unknown);
        await observation.WaitCompleteAsync(history, TimeSpan.FromSeconds(20));
        problems.AddRange(observation.Validate(history));
        output.WriteLine($"{workload.Acked.Count} acknowledged writes, {workload.Unknown} unknown outcomes, revisions {first}..{last}, {target.Logs!.Count(category, SequencerActivated)} sequencer activations");
        Assert.True(problems.Count == 0, WatchGuaranteeValidator.Report(problems));
    }

    [Fact]
    public async Task DeactivatingTheSequencer_WhileAWatchIsOpen_DoesNotStallWritesForLong()
    {
        await using var target = await WatchTarget.StartKubeBrainAsync();
        var host = target.Host!;
        var grains = host.Services.GetRequiredService<IGrainFactory>();
        var category = typeof(RevisionSequencerGrain).FullName!;
        var p = NewPrefix("deactivation-stall");
        await using var session = target.Open();
        var id = (await session.CreateAsync(OnPrefix(p))).WatchId;
        await PutAsync(target.Kv, p + "before", "x");
        await session.ReadEventsAsync(id, 1);
        var activations = target.Logs!.Count(category, SequencerActivated);

        var stalled = System.Diagnostics.Stopwatch.StartNew();
        await grains.GetGrain<IManagementGrain>(0).DeactivateGrain(grains.GetGrain<IRevisionSequencerGrain>(0).GetGrainId(), CancellationToken.None);
        var after = await PutAsync(target.Kv, p + "after", "y");
        stalled.Stop();

        Assert.True(target.Logs!.Count(category, SequencerActivated) > activations, "the sequencer was not reactivated");
        Assert.True(stalled.Elapsed < TimeSpan.FromSeconds(5), $"a write after the deactivation took {stalled.Elapsed.TotalSeconds:0.0} s");
        AssertEvents([PutEvent(Kv(p + "after", "y", after, after, 1))], await session.ReadEventsAsync(id, 1));
    }
}

using Xunit;
using Xunit.Abstractions;
using static KubeBrain.Tests.Watch.WatchKit;

namespace KubeBrain.Tests.Watch;

/// <summary>
/// Many watchers on one prefix: 1000 watchers over 10 streams (100 per stream, half with prev_kv) all receive the
/// complete, ordered stream of about 200 writes. A stream's 100 watchers produce 100 responses per revision, more
/// than its send queue holds, so watchers are parked and catch up from the feed while the writes go on.
/// </summary>
public sealed class WatchScaleTests(ITestOutputHelper output)
{
    [Fact]
    public async Task AThousandWatchersOnOnePrefix_EachReceiveEveryWriteInOrder()
    {
        const int streams = 10;
        const int perStream = 100;
        await using var target = await WatchTarget.StartKubeBrainAsync();
        var p = "/registry/pods/scale/";
        var first = await CurrentRevisionAsync(target.Kv) + 1;
        await using var observation = new WatchObservation(target, streams);
        await Task.WhenAll(Enumerable.Range(0, streams).Select(async stream =>
        {
            for (var i = 0; i < perStream; i++)
            {
                await observation.CreateAsync(stream, B(p), PrefixEnd(p), first, prevKv: i % 2 == 0);
            }
        }));
        await observation.WaitCreatedAsync(TimeSpan.FromSeconds(30));
        var workload = new WatchWorkload([.. Enumerable.Range(0, 20).Select(i => $"{p}ns{i % 3}/pod{i}")], [$"{p}ns1/"]);

        await Task.WhenAll(Enumerable.Range(0, 4).Select(w => Task.Run(() => workload.RunWriterAsync(target.Kv, 4242 + w, w, 50))));
        var last = await CurrentRevisionAsync(target.Kv);

        var history = await WatchHistory.ReadAsync(target.Kv, first, last);
        var problems = history.CheckAgainst(workload.Acked, workload.Unknown);
        await observation.WaitCompleteAsync(history, TimeSpan.FromSeconds(60));
        problems.AddRange(observation.Validate(history));
        var expected = history.Matching(_ => true, first).Count;
        output.WriteLine($"{workload.Acked.Count} writes, {expected} events per watcher, {observation.Sessions.Sum(s => s.All.Sum(r => r.Events.Count))} events delivered");
        Assert.True(expected >= 150, $"only {expected} events per watcher");
        Assert.True(problems.Count == 0, WatchGuaranteeValidator.Report(problems));
    }
}

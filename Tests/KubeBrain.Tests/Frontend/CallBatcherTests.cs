using KubeBrain.EtcdFrontend.Batching;
using Xunit;

namespace KubeBrain.Tests.Frontend;

public sealed class CallBatcherTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task RequestsArrivingDuringACallShareTheNextCallNeverTheOneInFlight()
    {
        var calls = new List<(IReadOnlyList<int> Requests, TaskCompletionSource Gate)>();
        using var callMade = new SemaphoreSlim(0);
        var batcher = new CallBatcher<int, string>(async requests =>
        {
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            int call;
            lock (calls)
            {
                calls.Add((requests, gate));
                call = calls.Count;
            }
            callMade.Release();
            await gate.Task;
            return [.. requests.Select(r => $"{r}@{call}")];
        });

        var first = batcher.CallAsync(1);
        Assert.True(await callMade.WaitAsync(Wait));
        var waiting = new[] { batcher.CallAsync(2), batcher.CallAsync(3), batcher.CallAsync(4) };
        calls[0].Gate.SetResult();

        Assert.Equal("1@1", await first.WaitAsync(Wait));
        Assert.True(await callMade.WaitAsync(Wait));
        Assert.All(waiting, w => Assert.False(w.IsCompleted));
        Assert.Equal(new[] { 2, 3, 4 }, calls[1].Requests);
        calls[1].Gate.SetResult();
        Assert.Equal(new[] { "2@2", "3@2", "4@2" }, await Task.WhenAll(waiting).WaitAsync(Wait));
        Assert.Equal(2, calls.Count);
    }

    [Fact]
    public async Task AFailedCallFailsEveryRequestItCarriedAndTheNextCallStillRuns()
    {
        var fail = true;
        var batcher = new CallBatcher<int, int>(requests =>
            fail ? Task.FromException<IReadOnlyList<int>>(new InvalidOperationException("down")) : Task.FromResult<IReadOnlyList<int>>([.. requests]));

        var failed = await Assert.ThrowsAsync<InvalidOperationException>(() => batcher.CallAsync(1));
        Assert.Equal("down", failed.Message);
        fail = false;

        Assert.Equal(7, await batcher.CallAsync(7));
    }
}

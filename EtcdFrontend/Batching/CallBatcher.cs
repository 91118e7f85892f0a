namespace KubeBrain.EtcdFrontend.Batching;

/// <summary>
/// Coalesces concurrent requests into batched grain calls, at most one call in flight: requests that arrive while
/// a call is under way wait for the next call, which carries all of them, so every request is answered by a call
/// issued after it arrived. A failed call fails every request it carried.
/// </summary>
/// <param name="send">Answers a batch, one result per request, in order.</param>
internal sealed class CallBatcher<TRequest, TResult>(Func<IReadOnlyList<TRequest>, Task<IReadOnlyList<TResult>>> send)
{
    private readonly Lock _lock = new();
    private List<(TRequest Request, TaskCompletionSource<TResult> Answer)> _queued = [];
    private bool _sending;

    public Task<TResult> CallAsync(TRequest request)
    {
        var answer = new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            _queued.Add((request, answer));
            if (_sending)
            {
                return answer.Task;
            }
            _sending = true;
        }
        _ = SendLoopAsync();
        return answer.Task;
    }

    private async Task SendLoopAsync()
    {
        while (true)
        {
            List<(TRequest Request, TaskCompletionSource<TResult> Answer)> batch;
            lock (_lock)
            {
                if (_queued.Count == 0)
                {
                    _sending = false;
                    return;
                }
                batch = _queued;
                _queued = [];
            }
            try
            {
                var results = await send([.. batch.Select(b => b.Request)]);
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Answer.TrySetResult(results[i]);
                }
            }
            catch (Exception e)
            {
                batch.ForEach(b => b.Answer.TrySetException(e));
            }
        }
    }
}

using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace KubeBrain.Tests.Infrastructure;

/// <summary>Records log events by category and event id, and lets a test await one.</summary>
public sealed class LogRecorder : ILoggerProvider
{
    private readonly ConcurrentDictionary<(string Category, int EventId), int> _counts = new();
    private readonly Lock _lock = new();
    private TaskCompletionSource _logged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>How many events with this id the category <paramref name="category"/> wrote.</summary>
    public int Count(string category, int eventId) => _counts.GetValueOrDefault((category, eventId));

    /// <summary>Waits until the category has written at least <paramref name="count"/> events with this id.</summary>
    public async Task WaitForAsync(string category, int eventId, int count, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        while (true)
        {
            Task logged;
            lock (_lock)
            {
                if (Count(category, eventId) >= count)
                {
                    return;
                }
                logged = _logged.Task;
            }
            try
            {
                await logged.WaitAsync(cancel.Token);
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                throw new TimeoutException($"{category} did not log event {eventId} {count} times within {timeout} (it did {Count(category, eventId)} times)");
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Recorder(this, categoryName);

    public void Dispose()
    {
    }

    private void Record(string category, int eventId)
    {
        TaskCompletionSource logged;
        lock (_lock)
        {
            _counts.AddOrUpdate((category, eventId), 1, (_, n) => n + 1);
            logged = _logged;
            _logged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        logged.TrySetResult();
    }

    private sealed class Recorder(LogRecorder owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id != 0)
            {
                owner.Record(category, eventId.Id);
            }
        }
    }
}

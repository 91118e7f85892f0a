using System.Text;
using Google.Protobuf;
using Grpc.Core;
using KubeBrain.Tests.Differential;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Watch;

/// <summary>
/// One Watch gRPC stream seen from the client: requests are sent in order, every response is recorded in arrival
/// order, and a test either reads them one by one (<see cref="NextAsync"/>) or waits for a condition on all of
/// them (<see cref="WaitUntilAsync"/>). Every wait has a deadline, so a server that never answers fails the test.
/// <para>
/// Two barriers tell a test that nothing else is on its way without sleeping. The request barrier sends a create
/// and waits for its <c>created</c> reply: anything the stream answers directly to earlier requests (created,
/// canceled, progress) was sent before it. The event barrier writes a sentinel key that a watch of this stream
/// follows, and waits for that event: every event at a lower revision for a synced watcher of the stream was sent
/// before it (etcd and KubeBrain both queue a stream's events in revision order). Barrier watches use ids from
/// <see cref="HiddenIdBase"/> on and their responses are hidden from <see cref="NextAsync"/>.
/// </para>
/// </summary>
public sealed class WatchSession : IAsyncDisposable
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(10);

    /// <summary>Watch ids the session uses for its barriers; tests choose ids below it.</summary>
    public const long HiddenIdBase = 1_000_000_000;

    private readonly AsyncDuplexStreamingCall<Rpc.WatchRequest, Rpc.WatchResponse> _call;
    private readonly CancellationTokenSource _lifetime;
    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly Lock _lock = new();
    private readonly List<Rpc.WatchResponse> _log = [];
    private readonly HashSet<long> _hidden = [];
    private readonly Task _reading;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _ended;
    private int _cursor;
    private long _nextHiddenId = HiddenIdBase;
    private long _sentinelId;
    private string? _sentinelKey;

    public WatchSession(Rpc.Watch.WatchClient client, TimeSpan lifetime)
    {
        _lifetime = new CancellationTokenSource(lifetime);
        _call = client.Watch(deadline: DateTime.UtcNow + lifetime, cancellationToken: _lifetime.Token);
        _reading = ReadAsync();
    }

    /// <summary>Every response received so far, in arrival order (barrier responses included).</summary>
    public IReadOnlyList<Rpc.WatchResponse> All
    {
        get
        {
            lock (_lock)
            {
                return [.. _log];
            }
        }
    }

    /// <summary>True for responses of the session's own barrier watches.</summary>
    public bool IsHidden(Rpc.WatchResponse response)
    {
        lock (_lock)
        {
            return _hidden.Contains(response.WatchId);
        }
    }

    public async Task SendAsync(Rpc.WatchRequest request)
    {
        await _sending.WaitAsync(_lifetime.Token);
        try
        {
            await _call.RequestStream.WriteAsync(request, _lifetime.Token);
        }
        finally
        {
            _sending.Release();
        }
    }

    public Task SendCreateAsync(Rpc.WatchCreateRequest create) => SendAsync(new Rpc.WatchRequest { CreateRequest = create });

    public Task SendCancelAsync(long watchId) => SendAsync(new Rpc.WatchRequest { CancelRequest = new Rpc.WatchCancelRequest { WatchId = watchId } });

    public Task SendProgressRequestAsync() => SendAsync(new Rpc.WatchRequest { ProgressRequest = new Rpc.WatchProgressRequest() });

    /// <summary>Closes the sending side of the stream (the client will send nothing more).</summary>
    public async Task CompleteRequestsAsync()
    {
        await _sending.WaitAsync(_lifetime.Token);
        try
        {
            await _call.RequestStream.CompleteAsync();
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <summary>Sends a create and returns its <c>created</c> reply, which must be the next visible response.</summary>
    public async Task<Rpc.WatchResponse> CreateAsync(Rpc.WatchCreateRequest create)
    {
        await SendCreateAsync(create);
        var reply = await NextAsync();
        if (!reply.Created)
        {
            throw new InvalidOperationException($"expected the created reply, got {ProtoText.Format(reply)}");
        }
        return reply;
    }

    /// <summary>The next response not yet read, skipping the session's barrier watches.</summary>
    public async Task<Rpc.WatchResponse> NextAsync(TimeSpan? wait = null)
    {
        Rpc.WatchResponse? next = null;
        await WaitUntilAsync(
            log =>
            {
                while (_cursor < log.Count)
                {
                    var response = log[_cursor++];
                    if (!_hidden.Contains(response.WatchId))
                    {
                        next = response;
                        return true;
                    }
                }
                return false;
            },
            "the next watch response",
            wait);
        return next!;
    }

    /// <summary>Reads responses until one matches; returns the ones skipped and the match.</summary>
    public async Task<(List<Rpc.WatchResponse> Skipped, Rpc.WatchResponse Match)> NextMatchingAsync(Func<Rpc.WatchResponse, bool> match, string what, TimeSpan? wait = null)
    {
        var skipped = new List<Rpc.WatchResponse>();
        var deadline = DateTime.UtcNow + (wait ?? DefaultWait);
        while (true)
        {
            var remaining = deadline - DateTime.UtcNow;
            Rpc.WatchResponse next;
            try
            {
                next = await NextAsync(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero);
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"no response matching {what}; skipped: {Describe(skipped)}", e);
            }
            if (match(next))
            {
                return (skipped, next);
            }
            skipped.Add(next);
        }
    }

    /// <summary>Reads the events of <paramref name="watchId"/> until it has <paramref name="count"/>; fails on anything else.</summary>
    public async Task<List<Protos.Mvccpb.Event>> ReadEventsAsync(long watchId, int count, TimeSpan? wait = null)
    {
        var events = new List<Protos.Mvccpb.Event>();
        while (events.Count < count)
        {
            var response = await NextAsync(wait);
            if (response.WatchId != watchId || response.Events.Count == 0 || response.Created || response.Canceled)
            {
                throw new InvalidOperationException($"expected events of watch {watchId}, got {ProtoText.Format(response)} after {events.Count} events");
            }
            events.AddRange(response.Events);
        }
        if (events.Count > count)
        {
            throw new InvalidOperationException($"expected {count} events of watch {watchId}, got {events.Count}: {string.Join(", ", events.Select(e => ProtoText.Format(e)))}");
        }
        return events;
    }

    /// <summary>Waits until <paramref name="condition"/> holds over every response received so far.</summary>
    public async Task WaitUntilAsync(Func<IReadOnlyList<Rpc.WatchResponse>, bool> condition, string what, TimeSpan? wait = null)
    {
        var timeout = wait ?? DefaultWait;
        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (condition(_log))
                {
                    return;
                }
                if (_ended is not null)
                {
                    throw new InvalidOperationException($"the watch stream ended while waiting for {what}: {_ended.Message}; received: {Describe(_log.Skip(Math.Max(0, _log.Count - 10)))}", _ended);
                }
                changed = _changed.Task;
            }
            try
            {
                await changed.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                throw new TimeoutException($"no {what} within {timeout.TotalSeconds:0.#} s; last responses: {Describe(All.Skip(Math.Max(0, All.Count - 10)))}");
            }
        }
    }

    /// <summary>
    /// The request barrier: returns the visible responses that arrived before the reply to a create sent now,
    /// and marks them read.
    /// </summary>
    public async Task<List<Rpc.WatchResponse>> RequestBarrierAsync()
    {
        long id;
        lock (_lock)
        {
            id = _nextHiddenId++;
            _hidden.Add(id);
        }
        await SendCreateAsync(new Rpc.WatchCreateRequest { Key = ByteString.CopyFromUtf8("\u0001barrier"), WatchId = id });
        var before = await ReadVisibleUntilAsync(r => r.WatchId == id && r.Created, "the barrier watch's created reply");
        await SendCancelAsync(id);
        return before;
    }

    /// <summary>
    /// The event barrier: writes this session's sentinel key and returns the visible responses that arrived
    /// before its event, and marks them read.
    /// </summary>
    public async Task<List<Rpc.WatchResponse>> EventBarrierAsync(Rpc.KV.KVClient kv)
    {
        if (_sentinelKey is null)
        {
            lock (_lock)
            {
                _sentinelId = _nextHiddenId++;
                _hidden.Add(_sentinelId);
            }
            _sentinelKey = $"/watch-sentinel/{Guid.NewGuid():N}";
            await SendCreateAsync(new Rpc.WatchCreateRequest { Key = ByteString.CopyFromUtf8(_sentinelKey), WatchId = _sentinelId });
            await WaitUntilAsync(log => log.Any(r => r.WatchId == _sentinelId && r.Created), "the sentinel watch's created reply");
        }
        var written = await kv.PutAsync(new Rpc.PutRequest { Key = ByteString.CopyFromUtf8(_sentinelKey), Value = ByteString.CopyFromUtf8("x") });
        var revision = written.Header.Revision;
        return await ReadVisibleUntilAsync(r => r.WatchId == _sentinelId && r.Events.Any(e => e.Kv.ModRevision == revision), $"the sentinel event at revision {revision}");
    }

    private async Task<List<Rpc.WatchResponse>> ReadVisibleUntilAsync(Func<Rpc.WatchResponse, bool> match, string what)
    {
        var before = new List<Rpc.WatchResponse>();
        await WaitUntilAsync(
            log =>
            {
                while (_cursor < log.Count)
                {
                    var response = log[_cursor++];
                    if (match(response))
                    {
                        return true;
                    }
                    if (!_hidden.Contains(response.WatchId))
                    {
                        before.Add(response);
                    }
                }
                return false;
            },
            what);
        return before;
    }

    /// <summary>Responses as text, for assertion messages.</summary>
    public static string Describe(IEnumerable<Rpc.WatchResponse> responses)
    {
        var text = new StringBuilder();
        foreach (var response in responses)
        {
            text.Append("\n    ").Append(ProtoText.Format(ProtoText.WithoutMemberFields(response)));
        }
        return text.Length == 0 ? "(none)" : text.ToString();
    }

    private async Task ReadAsync()
    {
        Exception ended;
        try
        {
            await foreach (var response in _call.ResponseStream.ReadAllAsync(_lifetime.Token))
            {
                TaskCompletionSource changed;
                lock (_lock)
                {
                    _log.Add(response);
                    changed = _changed;
                    _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
                changed.TrySetResult();
            }
            ended = new InvalidOperationException("the server ended the stream");
        }
        catch (Exception e)
        {
            ended = e;
        }
        TaskCompletionSource last;
        lock (_lock)
        {
            _ended = ended;
            last = _changed;
        }
        last.TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        await _lifetime.CancelAsync();
        _call.Dispose();
        await _reading;
        _lifetime.Dispose();
        _sending.Dispose();
    }
}

using System.Threading.Channels;
using KubeBrain.EtcdFrontend.Batching;
using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Interfaces.Model;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KubeBrain.EtcdFrontend.Watch;

/// <summary>
/// The frontend's one reader of the sequencer's watch feed, fanning each committed revision out to the synced
/// watchers of every stream (etcd's synced group). <see cref="Fed"/> (F) is the last revision received
/// completely; a watcher is synced when its next revision is F + 1 or later. A new watcher behind F, or one
/// whose stream could not take a response (parked), reads the feed on its own from its next revision and
/// joins the synced set at exactly F + 1, under the same lock the hub delivers under, so nothing is skipped or
/// repeated at the seam. When the feed breaks (grain deactivation, silo loss) the hub reopens it from F + 1.
/// <para>
/// A frontend hosted in a silo also hears that silo's sequencer announce its commits in process
/// (<see cref="LocalCommits"/>), which spares the feed's message hop on the path from commit to event. Either
/// source may bring a revision first; the hub takes only F + 1 from either, so the other's copy is dropped and a
/// missed announcement leaves a gap only until the feed fills it.
/// </para>
/// </summary>
internal sealed partial class WatchHub(
    GrainReferences grains,
    SequencerCalls calls,
    IOptions<EtcdFrontendOptions> options,
    ILogger<WatchHub> logger,
    LocalCommits? localCommits = null) : IHostedService
{
    private const int LocalBacklog = 256;

    private const int FeedBatchSize = 1000;
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(200);

    private readonly Lock _lock = new();
    private readonly HashSet<Watcher> _synced = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _starting = new(1, 1);
    private readonly FailureStreak _feedFailures = new();
    private readonly FailureStreak _catchUpFailures = new();
    private long _fed;
    private int _watchers;
    private TaskCompletionSource _advanced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Channel<IReadOnlyList<FeedItem>> _announced = Channel.CreateBounded<IReadOnlyList<FeedItem>>(
        new BoundedChannelOptions(LocalBacklog) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private Task? _feeding;
    private Task? _notifying;
    private Task? _hearing;
    private IDisposable? _subscription;

    private IRevisionSequencerGrain Sequencer => grains.Sequencer;

    /// <summary>The last revision received completely.</summary>
    public long Fed
    {
        get
        {
            lock (_lock)
            {
                return _fed;
            }
        }
    }

    /// <summary>Whether the hub reads the feed: from the first watch on.</summary>
    public bool Feeding => _feeding is not null;

    /// <summary>The registered watchers, and those of them that are not synced (catching up or parked).</summary>
    public (int Watchers, int Unsynced) WatcherCounts
    {
        get
        {
            lock (_lock)
            {
                return (_watchers, _watchers - _synced.Count);
            }
        }
    }

    /// <summary>Starts the feed if needed and waits until the hub has received every revision up to <paramref name="revision"/>.</summary>
    public async Task WaitFedAsync(long revision, CancellationToken cancellationToken)
    {
        await EnsureStartedAsync(cancellationToken);
        while (true)
        {
            Task advanced;
            lock (_lock)
            {
                if (_fed >= revision)
                {
                    return;
                }
                advanced = _advanced.Task;
            }
            await advanced.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Registers a watcher on its stream and queues its <c>created</c> reply, atomically with respect to
    /// deliveries: the reply's header is F, the watcher starts at the requested revision or, for 0, at F + 1, and
    /// no response with a later header can precede the reply on the stream. Uses the id the client chose, or the
    /// next free one for id 0. Nothing is delivered to the watcher before <see cref="Start"/>.
    /// </summary>
    public (Registration Outcome, Watcher? Watcher, long Revision) Register(
        WatchStream stream, long requestedId, long requestedStart, Func<long, long, Watcher> create)
    {
        try
        {
            return RegisterLocked(stream, requestedId, requestedStart, create);
        }
        finally
        {
            stream.Flush();
        }
    }

    private (Registration Outcome, Watcher? Watcher, long Revision) RegisterLocked(
        WatchStream stream, long requestedId, long requestedStart, Func<long, long, Watcher> create)
    {
        lock (_lock)
        {
            var now = _fed;
            var id = requestedId != 0 ? requestedId : stream.NextId();
            if (!stream.IsFree(id))
            {
                return (Registration.Duplicate, null, now);
            }
            var created = WatchStream.Notice(id);
            created.Created = true;
            if (!stream.TryEnqueue(created, now))
            {
                return (Registration.QueueFull, null, now);
            }
            var watcher = create(id, requestedStart == 0 ? now + 1 : Math.Max(requestedStart, 1));
            stream.Add(watcher);
            _watchers++;
            return (Registration.Created, watcher, now);
        }
    }

    /// <summary>Starts delivering to a registered watcher from its next revision.</summary>
    public void Start(Watcher watcher)
    {
        lock (_lock)
        {
            if (watcher.Cancelled.IsCancellationRequested)
            {
                return;
            }
            if (watcher.Next > _fed)
            {
                watcher.Synced = true;
                _synced.Add(watcher);
                return;
            }
        }
        _ = CatchUpAsync(watcher);
    }

    /// <summary>Stops and unregisters the watcher <paramref name="id"/> of <paramref name="stream"/>; null if unknown.</summary>
    public Watcher? Cancel(WatchStream stream, long id)
    {
        Watcher? watcher;
        lock (_lock)
        {
            watcher = stream.Remove(id);
            if (watcher is null)
            {
                return null;
            }
            _watchers--;
            _synced.Remove(watcher);
            watcher.Synced = false;
        }
        watcher.Cancel();
        return watcher;
    }

    /// <summary>Stops every watcher of a stream that ended.</summary>
    public void Close(WatchStream stream)
    {
        List<Watcher> all;
        lock (_lock)
        {
            all = stream.RemoveAll();
            _watchers -= all.Count;
            foreach (var watcher in all)
            {
                _synced.Remove(watcher);
                watcher.Synced = false;
            }
        }
        all.ForEach(w => w.Cancel());
    }

    /// <summary>
    /// Answers a progress request on <paramref name="stream"/>: a response with watch id −1 at F, queued behind
    /// every event up to F, but only when every watcher on the stream is synced and F has reached each one's
    /// start; otherwise nothing (clients ask again).
    /// </summary>
    public void RequestProgress(WatchStream stream)
    {
        lock (_lock)
        {
            if (stream.Watchers.All(w => w.Synced && _fed >= w.StartRevision - 1))
            {
                stream.TryEnqueue(WatchStream.Notice(-1), _fed);
            }
        }
        stream.Flush();
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Ends the feed before the silo stops (hosted services stop in reverse order of registration).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync();
        _subscription?.Dispose();
        foreach (var task in new[] { _feeding, _notifying, _hearing })
        {
            if (task is not null)
            {
                await task.ContinueWith(_ => { }, TaskScheduler.Default).WaitAsync(cancellationToken);
            }
        }
    }

    private async Task EnsureStartedAsync(CancellationToken cancellationToken)
    {
        if (_feeding is not null)
        {
            return;
        }
        await _starting.WaitAsync(cancellationToken);
        try
        {
            if (_feeding is null)
            {
                var barrier = await calls.BarrierAsync();
                lock (_lock)
                {
                    _fed = barrier.Revision;
                }
                _feeding = FeedLoopAsync(_stop.Token);
                if (localCommits is not null)
                {
                    _subscription = localCommits.Subscribe(committed => _announced.Writer.TryWrite(committed));
                    _hearing = HearLoopAsync(_stop.Token);
                }
                _notifying = NotifyLoopAsync(options.Value.WatchProgressNotifyInterval, _stop.Token);
            }
        }
        finally
        {
            _starting.Release();
        }
    }

    private async Task FeedLoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await foreach (var item in Sequencer.FeedAsync(Fed + 1, stop).WithBatchSize(FeedBatchSize).WithCancellation(stop))
                {
                    if (_feedFailures.Succeeded(out var failures))
                    {
                        LogFeedRestored(Fed + 1, failures);
                    }
                    if (item.IsHeartbeat)
                    {
                        continue;
                    }
                    if (item.CompactRevision != 0)
                    {
                        // Announcements may have carried the hub past the feed's own position: only a hub behind the
                        // compaction restarts; otherwise the feed reopens from F + 1.
                        if (Fed + 1 < item.CompactRevision)
                        {
                            await RestartBehindCompactionAsync(item.CompactRevision);
                        }
                        break;
                    }
                    Deliver(item);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                if (_feedFailures.Failed(out var unlogged))
                {
                    LogFeedBroken(e, Fed + 1, unlogged);
                }
                await Task.Delay(RetryDelay, stop).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Delivers the revisions this silo's sequencer announces, as far as they continue F.</summary>
    private async Task HearLoopAsync(CancellationToken stop)
    {
        try
        {
            await foreach (var committed in _announced.Reader.ReadAllAsync(stop))
            {
                foreach (var item in committed)
                {
                    Deliver(item);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Hands revision F + 1 to every synced watcher that wants it, one queue entry per stream, and parks the
    /// watchers of a stream that is full; any other revision is ignored (one the hub already has, or one an
    /// announcement brought ahead of a gap).
    /// </summary>
    private void Deliver(FeedItem item)
    {
        var wanting = new Dictionary<WatchStream, List<Watcher>>();
        lock (_lock)
        {
            if (item.Revision != _fed + 1)
            {
                return;
            }
            foreach (var watcher in _synced)
            {
                if (item.Revision < watcher.Next)
                {
                    continue;
                }
                if (watcher.Wants(item))
                {
                    if (!wanting.TryGetValue(watcher.Stream, out var watchers))
                    {
                        wanting.Add(watcher.Stream, watchers = []);
                    }
                    watchers.Add(watcher);
                    continue;
                }
                watcher.Next = item.Revision + 1;
            }
            var revision = new RevisionEvents(item);
            List<Watcher>? parked = null;
            foreach (var (stream, watchers) in wanting)
            {
                if (!stream.TryEnqueue(watchers, revision, item.Revision))
                {
                    (parked ??= []).AddRange(watchers);
                    continue;
                }
                foreach (var watcher in watchers)
                {
                    watcher.SawEvents = true;
                    watcher.Next = item.Revision + 1;
                }
            }
            _fed = item.Revision;
            foreach (var watcher in parked ?? [])
            {
                _synced.Remove(watcher);
                watcher.Synced = false;
                LogParked(watcher.Id, watcher.Next);
                _ = CatchUpAsync(watcher);
            }
            var advanced = _advanced;
            _advanced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            advanced.TrySetResult();
        }
        foreach (var stream in wanting.Keys)
        {
            stream.Flush();
        }
    }

    /// <summary>
    /// Reads the feed for one watcher from its next revision, at the pace its stream takes responses, and joins
    /// it to the synced set once the feed reaches F + 1.
    /// </summary>
    private async Task CatchUpAsync(Watcher watcher)
    {
        try
        {
            await foreach (var item in Sequencer.FeedAsync(watcher.Next, watcher.Cancelled).WithBatchSize(FeedBatchSize).WithCancellation(watcher.Cancelled))
            {
                if (_catchUpFailures.Succeeded(out var failures))
                {
                    LogCatchUpRestored(failures);
                }
                if (item.IsHeartbeat)
                {
                    continue;
                }
                if (item.CompactRevision != 0)
                {
                    await CancelCompactedAsync(watcher, item.CompactRevision);
                    return;
                }
                long header;
                lock (_lock)
                {
                    if (watcher.Cancelled.IsCancellationRequested)
                    {
                        return;
                    }
                    if (JoinIfCaughtUp(watcher))
                    {
                        return;
                    }
                    header = _fed;
                }
                var wanted = watcher.Wants(item);
                if (wanted)
                {
                    await watcher.Stream.EnqueueAsync(watcher, new RevisionEvents(item), header, watcher.Cancelled);
                }
                lock (_lock)
                {
                    watcher.Next = item.Revision + 1;
                    watcher.SawEvents |= wanted;
                    if (JoinIfCaughtUp(watcher))
                    {
                        return;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (watcher.Cancelled.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            if (_catchUpFailures.Failed(out var unlogged))
            {
                LogCatchUpBroken(e, watcher.Id, watcher.Next, unlogged);
            }
            await Task.Delay(RetryDelay, watcher.Cancelled).ContinueWith(_ => { }, TaskScheduler.Default);
            if (!watcher.Cancelled.IsCancellationRequested)
            {
                _ = CatchUpAsync(watcher);
            }
        }
    }

    /// <summary>
    /// Joins a catching-up watcher to the synced set once its next revision is F + 1 or later — at once, without
    /// waiting for a next commit, so an idle store still sees it synced. Called under the lock.
    /// </summary>
    private bool JoinIfCaughtUp(Watcher watcher)
    {
        if (watcher.Next <= _fed)
        {
            return false;
        }
        watcher.Synced = true;
        _synced.Add(watcher);
        return true;
    }

    /// <summary>The hub fell behind the compaction revision: every synced watcher is cancelled as etcd does.</summary>
    private async Task RestartBehindCompactionAsync(long compactRevision)
    {
        List<Watcher> dropped;
        lock (_lock)
        {
            dropped = [.. _synced];
            _synced.Clear();
        }
        foreach (var watcher in dropped)
        {
            await CancelCompactedAsync(watcher, compactRevision);
        }
        var barrier = await calls.BarrierAsync();
        lock (_lock)
        {
            _fed = Math.Max(_fed, barrier.Revision);
        }
    }

    private async Task CancelCompactedAsync(Watcher watcher, long compactRevision)
    {
        if (Cancel(watcher.Stream, watcher.Id) is null)
        {
            return;
        }
        var response = WatchStream.Notice(watcher.Id);
        response.Canceled = true;
        response.CompactRevision = compactRevision;
        await watcher.Stream.EnqueueAsync(response, WatchStream.NoRevision, CancellationToken.None);
    }

    /// <summary>
    /// etcd's progress_notify: every interval, each synced watcher that asked for it and saw no events since
    /// the last round gets an empty response at F (never below its start revision).
    /// </summary>
    private async Task NotifyLoopAsync(TimeSpan interval, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                NotifyProgress();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private void NotifyProgress()
    {
        var touched = new HashSet<WatchStream>();
        lock (_lock)
        {
            foreach (var watcher in _synced)
            {
                if (watcher.ProgressNotify && !watcher.SawEvents && _fed >= watcher.StartRevision - 1 &&
                    watcher.Stream.TryEnqueue(WatchStream.Notice(watcher.Id), _fed))
                {
                    touched.Add(watcher.Stream);
                }
                watcher.SawEvents = false;
            }
        }
        foreach (var stream in touched)
        {
            stream.Flush();
        }
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "The watch feed broke ({Unlogged} more breaks since the last such line); reopening it from revision {Revision}, and watchers get no events until it is back. If this persists, check that this frontend reaches the silos and that the store is reachable: the silos' logs say why the sequencer is unavailable")]
    private partial void LogFeedBroken(Exception exception, long revision, int unlogged);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Information, Message = "The watch feed is back from revision {Revision} after {Failures} failed attempts")]
    private partial void LogFeedRestored(long revision, int failures);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "A watcher's catch-up broke ({Unlogged} more breaks since the last such line); restarting it from revision {Revision} (watch {WatchId}). If this persists, check that this frontend reaches the silos and that the store is reachable")]
    private partial void LogCatchUpBroken(Exception exception, long watchId, long revision, int unlogged);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Information, Message = "Watchers' catch-up reads work again after {Failures} failed attempts")]
    private partial void LogCatchUpRestored(int failures);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Debug, Message = "Watch {WatchId} parked at revision {Revision}: its stream is not taking responses fast enough")]
    private partial void LogParked(long watchId, long revision);
}

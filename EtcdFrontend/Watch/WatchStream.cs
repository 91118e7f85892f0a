using System.Threading.Channels;
using Grpc.Core;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Watch;

/// <summary>
/// One Watch gRPC stream: its watchers, their ids, and one ordered outbound queue drained by a single send loop,
/// so responses leave in the order they were queued. The hub queues one entry per revision: a reference to the
/// revision and the stream's watchers that want it; the send loop selects and encodes the events. The queue is
/// bounded in revisions, which is what it holds in memory: the hub never waits on it; watchers whose revision does
/// not fit are parked and catch up instead.
/// <para>
/// What the hub queues under its lock is sent when it calls <see cref="Flush"/> after releasing the lock: an idle
/// send loop then resumes on the caller's thread, so a commit reaches the sockets of every stream it touches
/// without a thread-pool hand-off per stream. Queuing outside the hub's lock flushes by itself.
/// </para>
/// </summary>
internal sealed class WatchStream(ResponseHeaders headers, int maxResponseBytes)
{
    private const int QueueCapacity = 8192;
    /// <summary>
    /// The most deliveries (a watcher's revision, or a control response) one round of the send loop takes. A round
    /// holds references to encoded events, not copies (about 1 MiB at most), and a stream that fell behind merges up
    /// to this many over its watchers: 655 revisions each for 100 watchers, so a client reading more slowly than
    /// revisions arrive gets fewer, larger responses, as etcd batches a slow watcher's events.
    /// </summary>
    private const int Round = 65536;
    private const int MergeEvents = 1000;
    private const int MergeBytes = 1024 * 1024;

    private readonly Channel<Outgoing> _queue = Channel.CreateBounded<Outgoing>(
        new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private readonly Dictionary<long, Watcher> _watchers = [];
    private TaskCompletionSource? _idle;
    private long _nextId;
    private EncodedHeader? _header;

    /// <summary>The stream's watchers. Read and changed only under the hub's lock.</summary>
    public IEnumerable<Watcher> Watchers => _watchers.Values;

    /// <summary>Whether a client-chosen id is free on this stream.</summary>
    public bool IsFree(long id) => !_watchers.ContainsKey(id);

    /// <summary>The next server-chosen id, counting up from 0 and skipping ids in use, as etcd picks them.</summary>
    public long NextId()
    {
        while (_watchers.ContainsKey(_nextId))
        {
            _nextId++;
        }
        return _nextId++;
    }

    public void Add(Watcher watcher) => _watchers.Add(watcher.Id, watcher);

    public Watcher? Remove(long id) => _watchers.Remove(id, out var watcher) ? watcher : null;

    public List<Watcher> RemoveAll()
    {
        var all = _watchers.Values.ToList();
        _watchers.Clear();
        return all;
    }

    /// <summary>
    /// The header revision of a response that etcd sends with an empty header: the cancellation of a watch whose
    /// start was compacted.
    /// </summary>
    public const long NoRevision = 0;

    /// <summary>A control response (created, canceled, progress) for <paramref name="watchId"/>; its header is set when sent.</summary>
    public static Rpc.WatchResponse Notice(long watchId) => new() { WatchId = watchId };

    /// <summary>
    /// Queues one revision for the stream's watchers that want it, if it fits now (the hub's path, under its lock;
    /// see <see cref="Flush"/>).
    /// </summary>
    public bool TryEnqueue(IReadOnlyList<Watcher> watchers, RevisionEvents revision, long headerRevision) =>
        _queue.Writer.TryWrite(new Outgoing(watchers, revision, null, headerRevision));

    /// <summary>Queues one revision for a watcher, waiting for room, and sends it (catch-up).</summary>
    public ValueTask EnqueueAsync(Watcher watcher, RevisionEvents revision, long headerRevision, CancellationToken cancellationToken) =>
        EnqueueAndFlushAsync(new Outgoing([watcher], revision, null, headerRevision), cancellationToken);

    /// <summary>Waits until the queue has room.</summary>
    public async Task WaitForRoomAsync(CancellationToken cancellationToken) => await _queue.Writer.WaitToWriteAsync(cancellationToken);

    /// <summary>Queues a control response if it fits now (under the hub's lock; see <see cref="Flush"/>).</summary>
    public bool TryEnqueue(Rpc.WatchResponse control, long headerRevision) =>
        _queue.Writer.TryWrite(new Outgoing(null, null, control, headerRevision));

    /// <summary>Queues a control response, waiting for room, and sends it.</summary>
    public ValueTask EnqueueAsync(Rpc.WatchResponse control, long headerRevision, CancellationToken cancellationToken) =>
        EnqueueAndFlushAsync(new Outgoing(null, null, control, headerRevision), cancellationToken);

    /// <summary>
    /// Sends what is queued: an idle send loop resumes on this thread until its writes wait for the network. Call it
    /// after queuing with <c>TryEnqueue</c>, once no lock is held.
    /// </summary>
    public void Flush() => Interlocked.Exchange(ref _idle, null)?.TrySetResult();

    /// <summary>
    /// Writes queued responses to the client until the stream ends. Each round takes everything queued and, between
    /// control responses, merges each watcher's consecutive revisions into one response of at most 1000 events and
    /// 1 MiB — whole revisions stay
    /// together and each watcher's order is kept, which is all etcd's clients rely on; a watcher that asked for
    /// fragments gets one response (or fragment run) per revision. Writes are buffered and the last of a round
    /// flushes, so a burst leaves in few network writes. Headers never go back on a stream.
    /// <para>
    /// The loop ends once <paramref name="cancellationToken"/> is cancelled, before its next write. Writes run under
    /// <paramref name="callAborted"/>, the call's own token, never under one the process's stop cancels: gRPC resets
    /// the stream of a write whose token is cancelled, and the handler could then not end it with its status.
    /// </para>
    /// </summary>
    public async Task SendLoopAsync(IServerStreamWriter<WatchReply> writer, CancellationToken cancellationToken, CancellationToken callAborted)
    {
        var buffered = new WriteOptions(WriteFlags.BufferHint);
        var reader = _queue.Reader;
        var round = new List<Outgoing>();
        await using var stop = cancellationToken.Register(Flush);
        while (true)
        {
            round.Clear();
            var deliveries = 0;
            while (deliveries < Round && reader.TryRead(out var entry))
            {
                round.Add(entry);
                deliveries += entry.Deliveries;
            }
            if (round.Count == 0)
            {
                if (!await IdleAsync(cancellationToken))
                {
                    return;
                }
                continue;
            }
            var responses = Build(round);
            for (var i = 0; i < responses.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                writer.WriteOptions = i < responses.Count - 1 ? buffered : null;
                await writer.WriteAsync(responses[i], callAborted);
            }
        }
    }

    public void Complete()
    {
        _queue.Writer.TryComplete();
        Flush();
    }

    private async ValueTask EnqueueAndFlushAsync(Outgoing outgoing, CancellationToken cancellationToken)
    {
        await _queue.Writer.WriteAsync(outgoing, cancellationToken);
        Flush();
    }

    /// <summary>
    /// Waits for a <see cref="Flush"/> with the queue drained; false once the queue is completed and empty. The wait
    /// is published before the queue and the token are looked at again, so an entry queued, or a cancellation
    /// (which flushes), meanwhile is never missed.
    /// </summary>
    private async ValueTask<bool> IdleAsync(CancellationToken cancellationToken)
    {
        var idle = new TaskCompletionSource();
        Interlocked.Exchange(ref _idle, idle);
        if (_queue.Reader.TryPeek(out _) || _queue.Reader.Completion.IsCompleted || cancellationToken.IsCancellationRequested)
        {
            Flush();
        }
        await idle.Task;
        cancellationToken.ThrowIfCancellationRequested();
        return !_queue.Reader.Completion.IsCompleted;
    }

    private List<WatchReply> Build(List<Outgoing> round)
    {
        var replies = new List<WatchReply>(round.Count);
        var open = new Dictionary<long, WatchReply>();
        foreach (var entry in round)
        {
            if (entry.Control is { } control)
            {
                open.Clear();
                control.Header = entry.HeaderRevision == NoRevision ? headers.At(NoRevision) : Header(entry.HeaderRevision).Header;
                replies.Add(WatchReply.For(control));
                continue;
            }
            var header = Header(entry.HeaderRevision);
            foreach (var watcher in entry.Watchers!)
            {
                var selection = watcher.Select(entry.Revision!);
                if (selection.Events.Count == 0)
                {
                    continue;
                }
                if (watcher.Fragment)
                {
                    replies.AddRange(Fragments(watcher.Id, selection, header));
                    continue;
                }
                if (open.TryGetValue(watcher.Id, out var into) && into.EventCount + selection.Events.Count <= MergeEvents && into.EventBytes + selection.Size <= MergeBytes)
                {
                    into.Add(selection.Events, selection.Size);
                    into.Header = header;
                    continue;
                }
                var reply = WatchReply.Events(header, watcher.Id);
                reply.Add(selection.Events, selection.Size);
                open[watcher.Id] = reply;
                replies.Add(reply);
            }
        }
        return replies;
    }

    /// <summary>One revision's events, split into fragments above the request limit plus gRPC overhead, as etcd splits them.</summary>
    private List<WatchReply> Fragments(long watchId, EventSelection selection, EncodedHeader header)
    {
        var whole = WatchReply.Events(header, watchId);
        whole.Add(selection.Events, selection.Size);
        if (selection.Events.Count < 2 || whole.Size <= maxResponseBytes)
        {
            return [whole];
        }
        var fragments = new List<WatchReply>();
        var current = WatchReply.Events(header, watchId, fragment: true);
        foreach (var e in selection.Events)
        {
            if (current.EventCount > 0 && current.Size + e.Length > maxResponseBytes)
            {
                fragments.Add(current);
                current = WatchReply.Events(header, watchId, fragment: true);
            }
            current.Add(e);
        }
        current.EndFragments();
        fragments.Add(current);
        return fragments;
    }

    private EncodedHeader Header(long revision)
    {
        if (_header is null || revision > _header.Revision)
        {
            _header = new EncodedHeader(headers.At(revision));
        }
        return _header;
    }

    /// <summary>A queued item: a revision to encode for some of the stream's watchers, or a ready control response.</summary>
    private readonly record struct Outgoing(IReadOnlyList<Watcher>? Watchers, RevisionEvents? Revision, Rpc.WatchResponse? Control, long HeaderRevision)
    {
        public int Deliveries => Watchers?.Count ?? 1;
    }
}

using System.Threading.Channels;
using Google.Protobuf;
using Grpc.Core;
using Rpc = KubeBrain.Protos.Etcdserverpb;
using Mvcc = KubeBrain.Protos.Mvccpb;

namespace KubeBrain.Migrate;

/// <summary>A key range as etcd requests name it: [Key, End), End "\0" for every key from Key on.</summary>
internal sealed record KeyRange(ByteString Key, ByteString End)
{
    /// <summary>The keys that start with <paramref name="prefix"/>; every key for an empty prefix.</summary>
    public static KeyRange OfPrefix(string prefix)
    {
        var zero = ByteString.CopyFrom(0);
        if (prefix.Length == 0)
        {
            return new KeyRange(zero, zero);
        }
        var end = ByteString.CopyFromUtf8(prefix).ToByteArray();
        for (var i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xff)
            {
                end[i]++;
                return new KeyRange(ByteString.CopyFromUtf8(prefix), ByteString.CopyFrom(end, 0, i + 1));
            }
        }
        return new KeyRange(ByteString.CopyFromUtf8(prefix), zero);
    }
}

/// <summary>
/// The source's changes after the snapshot: one watch from the snapshot's revision + 1, opened before the copy
/// and read into memory while it runs (a watch that keeps up cannot be overtaken by the source's compaction),
/// then applied to the target in revision order until the cut-over key is put. Changes of one revision are
/// applied in the same txn or in consecutive ones; a txn may span revisions. While nothing waits to be applied,
/// a progress request each second learns the source's revision, for the progress shown.
/// </summary>
internal sealed class SourceTail : IAsyncDisposable
{
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromSeconds(1);

    private readonly Store _source;
    private readonly Progress _progress;
    private readonly Channel<Rpc.WatchResponse> _queue = Channel.CreateUnbounded<Rpc.WatchResponse>();
    private readonly CancellationTokenSource _stop;
    private readonly AsyncDuplexStreamingCall<Rpc.WatchRequest, Rpc.WatchResponse> _call;
    private readonly Task _reader;
    private Exception? _failure;

    private SourceTail(Store source, KeyRange range, long startRevision, Progress progress, CancellationToken cancellationToken)
    {
        _source = source;
        _progress = progress;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _call = source.Watch.Watch(cancellationToken: _stop.Token);
        _reader = ReadAsync(new Rpc.WatchCreateRequest { Key = range.Key, RangeEnd = range.End, StartRevision = startRevision });
    }

    /// <summary>Starts watching <paramref name="range"/> on <paramref name="source"/> from <paramref name="startRevision"/>.</summary>
    public static SourceTail Start(Store source, KeyRange range, long startRevision, Progress progress, CancellationToken cancellationToken) =>
        new(source, range, startRevision, progress, cancellationToken);

    /// <summary>
    /// Applies the source's changes through <paramref name="writer"/> until a put of <paramref name="cutoverKey"/>,
    /// which is not applied; answers its revision once every change of that revision and before is applied.
    /// </summary>
    public async Task<long> ApplyUntilCutoverAsync(TargetWriter writer, ByteString cutoverKey, long snapshot, CancellationToken cancellationToken)
    {
        var batch = new ChangeBatch();
        var current = snapshot;
        var previous = snapshot;
        var revisions = 0;
        long cutover = 0;

        // Writes the batch; every change of revision `current` is in it unless `currentComplete` is false.
        async Task FlushAsync(bool currentComplete)
        {
            var changes = batch.Take();
            if (changes.Length > 0)
            {
                await writer.WriteAsync(changes, cancellationToken);
            }
            _progress.Applied(currentComplete ? current : previous, changes.Length, revisions);
            revisions = 0;
        }

        while (cutover == 0)
        {
            if (!_queue.Reader.TryRead(out var response))
            {
                await FlushAsync(currentComplete: true);
                if (!await _queue.Reader.WaitToReadAsync(cancellationToken))
                {
                    throw _failure ?? new StoreException($"{_source.Name} ended the watch", StatusCode.Unavailable);
                }
                continue;
            }
            foreach (var e in response.Events)
            {
                var revision = e.Kv.ModRevision;
                if (cutover != 0 && revision > cutover)
                {
                    break;
                }
                if (e.Kv.Key == cutoverKey)
                {
                    if (e.Type == Mvcc.Event.Types.EventType.Put)
                    {
                        cutover = revision;
                    }
                    continue;
                }
                var change = e.Type == Mvcc.Event.Types.EventType.Put ? Change.Put(e.Kv) : Change.Delete(e.Kv.Key);
                if (!batch.TryAdd(change))
                {
                    await FlushAsync(currentComplete: revision != current);
                    batch.TryAdd(change);
                }
                if (revision != current)
                {
                    previous = current;
                    current = revision;
                    revisions++;
                }
            }
            _progress.Taken(response.Events.Count);
        }
        await FlushAsync(currentComplete: true);
        return cutover;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _reader;
        _call.Dispose();
        _stop.Dispose();
    }

    private async Task ReadAsync(Rpc.WatchCreateRequest create)
    {
        try
        {
            await _call.RequestStream.WriteAsync(new Rpc.WatchRequest { CreateRequest = create }, _stop.Token);
            var progressRequests = RequestProgressAsync();
            try
            {
                while (await _call.ResponseStream.MoveNext(_stop.Token))
                {
                    var response = _call.ResponseStream.Current;
                    if (response.Canceled)
                    {
                        throw new StoreException(response.CompactRevision != 0
                            ? $"{_source.Name} has compacted revision {response.CompactRevision}, past the changes after revision {create.StartRevision - 1} still to be read; pause its compaction while the copy runs (docs/migration.md)"
                            : $"{_source.Name} cancelled the watch: {response.CancelReason}", StatusCode.OutOfRange);
                    }
                    _progress.SourceAt(response.Header.Revision);
                    if (response.Events.Count > 0)
                    {
                        _progress.Queued(response.Events.Count);
                        _queue.Writer.TryWrite(response);
                    }
                }
            }
            finally
            {
                await _stop.CancelAsync();
                await progressRequests;
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Disposed, or the run was stopped.
        }
        catch (RpcException e)
        {
            _failure = _source.Failure("the watch", e);
        }
        catch (Exception e)
        {
            _failure = e;
        }
        finally
        {
            _queue.Writer.TryComplete();
        }
    }

    private async Task RequestProgressAsync()
    {
        using var timer = new PeriodicTimer(ProgressEvery);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                if (_progress.Waiting == 0)
                {
                    await _call.RequestStream.WriteAsync(new Rpc.WatchRequest { ProgressRequest = new Rpc.WatchProgressRequest() }, _stop.Token);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or RpcException or InvalidOperationException)
        {
            // The stream ended; the reader reports why.
        }
    }
}

using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace KubeBrain.Grains.Sequencer;

/// <summary>
/// The single ordering point. Submissions queue while a flush is under way; each flush takes everything
/// queued, assigns consecutive revisions to the revisions that will commit, writes them in one store
/// transaction and only then acknowledges them and advances the committed revision. A revision is assigned
/// only to a write that commits, so revisions stay dense (I1), and nothing is acknowledged before it and every
/// lower revision are durable (I2).
/// <para>
/// Committed revisions are also published, whole and in order, to the watch feed (see the Feed part).
/// </para>
/// </summary>
[Reentrant]
internal sealed partial class RevisionSequencerGrain(
    IMvccStore store,
    LocalCommits localCommits,
    StoreMetrics metrics,
    IOptions<SequencerOptions> options,
    ILogger<RevisionSequencerGrain> logger)
    : Grain, IRevisionSequencerGrain
{
    private const int PurgeBatchRows = 1000;

    /// <summary>Activations that could not open the store, in this process (each failure leaves nothing behind).</summary>
    private static readonly FailureStreak OpenFailures = new();

    private readonly Queue<(Submission Submission, TaskCompletionSource<SubmitResult> Answer)> _queue = new();
    private readonly Dictionary<string, long> _rangeEpochs = new(StringComparer.Ordinal);
    private long _current;
    private long _compact;
    private long _epoch;
    private long _batchId;
    private Task _flushing = Task.CompletedTask;

    /// <summary>The flush under way, or the last one: every flush before it has ended.</summary>
    private Task _flush = Task.CompletedTask;
    private bool _purgeRequested;
    private Task _purging = Task.CompletedTask;
    private RangeDirectory _directory = new(0, []);
    private readonly FailureStreak _flushFailures = new();

    /// <summary>Live keys created minus live keys deleted by the commits of this activation.</summary>
    private long _keysDelta;

    /// <summary>The count of the live keys at activation, started by the first <see cref="GaugesAsync"/>.</summary>
    private Task<long?>? _keysAtActivation;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        StoreMetadata metadata;
        try
        {
            metadata = await OpenStoreAsync(cancellationToken);
        }
        catch (Exception failure) when (!cancellationToken.IsCancellationRequested)
        {
            if (OpenFailures.Failed(out var unlogged))
            {
                LogOpenFailed(failure, unlogged);
            }
            throw;
        }
        // The activation line below says that the store opens again.
        OpenFailures.Succeeded(out _);
        _current = metadata.CurrentRevision;
        _compact = metadata.CompactRevision;
        _epoch = metadata.Epoch;
        var ranges = await store.ListRangesAsync(cancellationToken);
        foreach (var range in ranges)
        {
            _rangeEpochs[range.RangeId] = range.Epoch;
        }
        _directory = new RangeDirectory(ranges.Sum(r => r.Epoch), [.. ranges.Select(r => r.RangeId)]);
        StartFeedAt(_current + 1);
        LogActivated(_epoch, _current, _compact);
        if (_compact > 0)
        {
            StartPurge();
        }
        await LoadLeasesAsync(cancellationToken);
    }

    public Task<SubmitResult> SubmitAsync(Submission submission)
    {
        var answer = new TaskCompletionSource<SubmitResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Enqueue((submission, answer));
        if (_flushing.IsCompleted)
        {
            _flushing = FlushLoopAsync();
        }
        return answer.Task;
    }

    /// <summary>Answered only while this activation holds its time lease (see the TimeLease part).</summary>
    public async Task<ReadBarrier> BarrierAsync()
    {
        await EnsureLeaseAsync();
        return new ReadBarrier(_current, _compact, _directory.Version);
    }

    public Task<RangeDirectory> DirectoryAsync() => Task.FromResult(_directory);

    /// <summary>
    /// From the claim on, submissions of older activations of the range, and groups validated under the older
    /// directory version, are refused; the claim answers once no flush that took them is under way, so the new
    /// activation loads every write they committed.
    /// </summary>
    public async Task<RangeClaim> ClaimRangeAsync(string rangeId)
    {
        var epoch = await FencedAsync(mine => store.ClaimRangeAsync(mine, rangeId, CancellationToken.None));
        _rangeEpochs[rangeId] = epoch;
        _directory = new RangeDirectory(
            _directory.Version + 1,
            _directory.RangeIds.Contains(rangeId) ? _directory.RangeIds : [.. _directory.RangeIds.Append(rangeId).Order(StringComparer.Ordinal)]);
        await _flush;
        return new RangeClaim(epoch, _current, _compact);
    }

    public async Task<KvStatus> CompactAsync(long revision, bool physical)
    {
        if (revision <= _compact)
        {
            return KvStatus.Compacted;
        }
        if (revision > _current)
        {
            return KvStatus.FutureRevision;
        }
        var status = await FencedAsync(mine => store.SetCompactRevisionAsync(mine, revision, CancellationToken.None));
        if (status != KvStatus.Ok)
        {
            return status;
        }
        _compact = Math.Max(_compact, revision);
        StartPurge();
        if (physical)
        {
            await _purging;
        }
        return KvStatus.Ok;
    }

    public async Task<StoreStatus> StatusAsync() =>
        new(_current, _compact, await store.SizeAsync(CancellationToken.None));

    /// <summary>
    /// The live keys are counted in the store once, at the committed revision, off the grain's turn (a count reads
    /// every live key); the commits this activation made up to that revision are taken off, which leaves the count
    /// at activation, and every later commit's creations and deletions keep it current. Until the count is done,
    /// or after it failed (it is tried again), the gauges carry no key count.
    /// </summary>
    public async Task<StoreGauges> GaugesAsync()
    {
        _keysAtActivation ??= CountKeysAsync(_current, _keysDelta);
        long? keys = null;
        if (_keysAtActivation.IsCompleted)
        {
            keys = await _keysAtActivation + _keysDelta;
            if (keys is null)
            {
                _keysAtActivation = null;
            }
        }
        var size = await store.SizeAsync(CancellationToken.None);
        return new StoreGauges(_current, _compact, size, keys);
    }

    private async Task<long?> CountKeysAsync(long revision, long delta)
    {
        try
        {
            var counted = await Task.Run(() => store.RangeAsync(new KeySpan([], []), revision, 0, countOnly: true, CancellationToken.None));
            return counted.Status == KvStatus.Ok ? counted.Count - delta : null;
        }
        catch (StoreUnavailableException)
        {
            return null;
        }
    }

    private async Task FlushLoopAsync()
    {
        while (_queue.Count > 0)
        {
            await (_flush = FlushAsync());
        }
    }

    private async Task FlushAsync()
    {
        var taken = new List<(Submission Submission, TaskCompletionSource<SubmitResult> Answer)>(_queue.Count);
        while (_queue.TryDequeue(out var queued))
        {
            taken.Add(queued);
        }
        var rows = new List<StoredRow>();
        var feed = new List<FeedItem>();
        var answers = new List<SubmitResult>(taken.Count);
        var next = _current + 1;
        foreach (var (submission, _) in taken)
        {
            answers.Add(Assign(submission, ref next, rows, feed));
        }
        if (rows.Count > 0)
        {
            var sent = Now;
            try
            {
                await store.AppendAsync(new CommitBatch(_epoch, ++_batchId, _current + 1, next - 1, rows), CancellationToken.None);
            }
            catch (Exception failure)
            {
                if (failure is StoreFencedException)
                {
                    LogDeposed(failure, _epoch);
                }
                else if (_flushFailures.Failed(out var unlogged))
                {
                    LogFlushFailed(failure, next - 1 - _current, unlogged);
                }
                foreach (var (_, answer) in taken)
                {
                    answer.TrySetException(new StoreUnavailableException("the storage transaction failed", failure));
                }
                if (failure is StoreFencedException)
                {
                    DeactivateOnIdle();
                }
                return;
            }
            LeaseRenewed(sent);
            metrics.Appended(next - 1 - _current, rows.Count, Now - sent);
            if (_flushFailures.Succeeded(out var failed))
            {
                LogFlushRecovered(failed);
            }
            _keysDelta += KeysCreatedLessDeleted(rows);
            _current = next - 1;
            Publish(feed);
        }
        for (var i = 0; i < taken.Count; i++)
        {
            taken[i].Answer.TrySetResult(answers[i]);
        }
        _lessor.Track(rows);
    }

    /// <summary>
    /// Gives the submission's revisions their numbers from <paramref name="next"/> on, up to the first one that
    /// cannot commit; that one is refused and the ones after it must be evaluated again.
    /// </summary>
    private SubmitResult Assign(Submission submission, ref long next, List<StoredRow> rows, List<FeedItem> feed)
    {
        var statuses = new SubmitStatus[submission.Revisions.Count];
        var first = next;
        if (_rangeEpochs.TryGetValue(submission.RangeId, out var epoch) && submission.RangeEpoch < epoch)
        {
            Array.Fill(statuses, SubmitStatus.Deposed);
            return new SubmitResult(first, statuses, _compact);
        }
        var stopped = submission.DirectoryVersion != 0 && submission.DirectoryVersion != _directory.Version;
        for (var i = 0; i < statuses.Length; i++)
        {
            var writes = submission.Revisions[i].Writes;
            if (stopped)
            {
                statuses[i] = SubmitStatus.Retry;
                continue;
            }
            if (writes.Any(w => w.Lease != 0 && !w.Tombstone && !LeaseExists(w.Lease)))
            {
                statuses[i] = SubmitStatus.LeaseNotFound;
                stopped = true;
                continue;
            }
            var revision = next++;
            var events = new WatchEvent[writes.Count];
            for (var sub = 0; sub < writes.Count; sub++)
            {
                var w = writes[sub];
                var create = w.CreateRef >= 0 ? first + w.CreateRef : w.CreateRevision;
                var prev = w.PrevRef >= 0 ? first + w.PrevRef : w.PrevRevision;
                rows.Add(new StoredRow(
                    revision, sub, w.Key, w.Tombstone ? 0 : create, w.Version, w.Lease, w.Value, w.Tombstone, prev, w.RangeId, submission.RangeEpoch));
                events[sub] = new WatchEvent(
                    w.Tombstone,
                    w.Tombstone ? new KeyValue(w.Key, 0, revision, 0, [], 0) : new KeyValue(w.Key, create, revision, w.Version, w.Value, w.Lease),
                    w.PrevVersion == 0 ? null : new KeyValue(w.Key, create, prev, w.PrevVersion, w.PrevValue, w.PrevLease));
            }
            feed.Add(new FeedItem(revision, events, 0));
            statuses[i] = SubmitStatus.Committed;
        }
        return new SubmitResult(first, statuses, _compact);
    }

    /// <summary>A put of version 1 starts a key's generation, a tombstone ends one.</summary>
    private static long KeysCreatedLessDeleted(List<StoredRow> rows)
    {
        long delta = 0;
        foreach (var row in rows)
        {
            delta += row.Tombstone ? -1 : row.Version == 1 ? 1 : 0;
        }
        return delta;
    }

    /// <summary>
    /// A store write under this activation's epoch. If the store fenced it, a newer activation has taken over: the
    /// call is answered Unavailable and this activation deactivates, as after a fenced append.
    /// </summary>
    private async Task<T> FencedAsync<T>(Func<long, Task<T>> write)
    {
        try
        {
            return await write(_epoch);
        }
        catch (StoreFencedException fenced)
        {
            LogDeposed(fenced, _epoch);
            DeactivateOnIdle();
            throw new StoreUnavailableException("this sequencer activation was deposed by a newer one", fenced);
        }
    }

    private void StartPurge()
    {
        _purgeRequested = true;
        if (_purging.IsCompleted)
        {
            _purging = PurgeLoopAsync();
        }
    }

    /// <summary>Removes compacted history in short batches, so appends interleave with it.</summary>
    private async Task PurgeLoopAsync()
    {
        while (_purgeRequested)
        {
            _purgeRequested = false;
            long removed = 0;
            int batch;
            do
            {
                batch = await FencedAsync(mine => store.PurgeAsync(mine, PurgeBatchRows, CancellationToken.None));
                removed += batch;
            }
            while (batch > 0);
            LogPurged(removed, _compact);
        }
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "Sequencer activated at epoch {Epoch}: revision {Revision}, compacted at {CompactRevision}")]
    private partial void LogActivated(long epoch, long revision, long compactRevision);

    [LoggerMessage(EventId = 2107, Level = LogLevel.Error, Message = "The sequencer could not open the store ({Unlogged} more attempts failed since the last such line); every request is answered Unavailable until it can. Check that the store is reachable and writable: the data directory for SQLite, the server for PostgreSQL")]
    private partial void LogOpenFailed(Exception exception, int unlogged);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Error, Message = "A storage transaction of {Revisions} revisions failed ({Unlogged} more failed since the last such line); its writes are answered Unavailable and clients retry. Check that the store is reachable and has room: the data directory's disk for SQLite, the server and its logs for PostgreSQL")]
    private partial void LogFlushFailed(Exception exception, long revisions, int unlogged);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Information, Message = "Storage transactions commit again after {Failures} failed")]
    private partial void LogFlushRecovered(int failures);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Information, Message = "Removed {Rows} compacted rows below revision {CompactRevision}")]
    private partial void LogPurged(long rows, long compactRevision);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Warning, Message = "A store write under epoch {Epoch} was fenced: a newer sequencer activation has taken over, so this one deactivates. Expected once after a silo failed over; if it repeats, another process writes to the same store: a second server on the same --data-dir, or silos of another cluster on the same database (all silos of one database need the same --cluster-id and --service-id)")]
    private partial void LogDeposed(Exception exception, long epoch);
}

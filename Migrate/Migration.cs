using System.Globalization;
using System.Runtime.CompilerServices;
using Google.Protobuf;
using Grpc.Core;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Migrate;

/// <summary>
/// One run, either way: the copy of the source's keys as of one revision R with its leases, then the source's
/// changes after R applied until the cut-over key is put on the source. <c>migrate</c> and <c>export</c> run
/// exactly this; only the stores' names differ.
/// </summary>
internal sealed class Migration
{
    /// <summary>Where a run is, for what a stop leaves behind.</summary>
    private enum Phase
    {
        Check,
        Copy,
        Tail,
        Advance,
    }

    private const int PageSize = 1000;
    private const int Writers = 4;
    private const int AdvanceWriters = 16;

    private readonly MigrateOptions _options;
    private readonly Store _source;
    private readonly Store _target;
    private readonly TextWriter _output;
    private readonly Progress _progress;
    private readonly LeaseMirror _leases;
    private readonly TargetWriter _writer;
    private readonly ByteString _cutoverKey;
    private long _snapshot;
    private long _cutover;
    private Phase _phase = Phase.Check;

    public Migration(MigrateOptions options, Store source, Store target, TextWriter output, Progress progress, LeaseMirror leases)
    {
        _options = options;
        _source = source;
        _target = target;
        _output = output;
        _progress = progress;
        _leases = leases;
        _writer = new TargetWriter(target, leases);
        _cutoverKey = ByteString.CopyFromUtf8(options.EffectiveCutoverKey);
    }

    /// <summary>Runs to the cut-over and answers the summary to print.</summary>
    public async Task<string[]> RunAsync(CancellationToken cancellationToken)
    {
        await _source.ReachAsync(cancellationToken);
        await _target.ReachAsync(cancellationToken);
        var range = KeyRange.OfPrefix(_options.Prefix);
        await RequireEmptyTargetAsync(range, cancellationToken);
        await _output.WriteLineAsync(
            $"Revisions are not preserved: {_target.Product} numbers its own, so every object's resourceVersion changes. At the cut-over {_target.Product}'s revision " +
            $"is taken past {_source.Product}'s; the kube-apiservers then restart on {_target.Product}, their watch caches are rebuilt, clients get 410 Gone once and relist (docs/migration.md).");

        _phase = Phase.Copy;
        var first = await ReadPageAsync(range.Key, range.End, 0, cancellationToken);
        _snapshot = first.Header.Revision;
        _progress.StartCopy(_snapshot, first.Count);
        await using var tail = SourceTail.Start(_source, range, _snapshot + 1, _progress, cancellationToken);
        var listed = await _source.CallAsync("LeaseLeases", o => _source.Lease.LeaseLeasesAsync(new Rpc.LeaseLeasesRequest(), o), cancellationToken);
        foreach (var lease in listed.Leases)
        {
            await _leases.IsLiveAsync(lease.ID, cancellationToken);
        }
        var (copied, ended) = await CopyAsync(first, range, cancellationToken);
        _phase = Phase.Tail;
        _progress.StartTail();
        _progress.Say(string.Create(CultureInfo.InvariantCulture,
            $"copied {Progress.Count(copied, "key")} of revision {_snapshot} ({ended} left out: their lease had ended) and {Progress.Count(_leases.Granted, "lease")}; now following {_source.Name} until {_options.EffectiveCutoverKey} is put"));
        _cutover = await tail.ApplyUntilCutoverAsync(_writer, _cutoverKey, _snapshot, cancellationToken);
        var revoked = await _leases.RevokeEndedAsync(cancellationToken);
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"Cut over at revision {_cutover} of {_source.Name}: {Progress.Count(copied, "key")} copied of revision {_snapshot}, {Progress.Count(_leases.Granted, "lease")} granted ({revoked} since ended on the source and revoked), {Progress.Count(_progress.Changes, "change")} in {Progress.Count(_progress.Revisions, "revision")} applied after it.");
        return [summary, await SettleRevisionAsync(cancellationToken), $"Point the kube-apiservers' --etcd-servers at {_target.Name} and restart them (docs/migration.md)."];
    }

    /// <summary>What the target holds when the run is stopped before its end.</summary>
    public string Stopped() => _phase switch
    {
        Phase.Check => "stopped before the copy: nothing was written",
        Phase.Copy => $"stopped during the copy: {_target.Name} holds part of the keys; start again on an empty store",
        Phase.Tail => string.Create(CultureInfo.InvariantCulture, $"stopped before the cut-over: {_target.Name} has every change of {_source.Name} through revision {_progress.Through}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"stopped while advancing {_target.Name} past revision {_cutover}: it has every change of the cut-over, but {StaleVersions}"),
    };

    /// <summary>
    /// Takes the target's revision past the cut-over's, so that every resourceVersion a client kept from the source
    /// is older than the target's: a watch from one is answered 410 Gone and the client relists. A watch from a
    /// revision the store has not reached waits for it instead, seeing nothing until then. Each write advances the
    /// revision by one (a scratch key, the cut-over key, is put over and over by a few writers, then deleted), so
    /// at most <see cref="MigrateOptions.AdvanceLimit"/> are spent. Then the target is compacted at its revision,
    /// so that a read at an older one (a continue token, an exact resourceVersion) is refused as compacted rather
    /// than answered with a state that only existed during the copy. Answers the line that says how it went.
    /// </summary>
    private async Task<string> SettleRevisionAsync(CancellationToken cancellationToken)
    {
        var from = (await _target.CallAsync("a range", o => _target.Kv.RangeAsync(new Rpc.RangeRequest { Key = _cutoverKey, CountOnly = true }, o), cancellationToken)).Header.Revision;
        var revision = from;
        if (revision <= _cutover && _cutover - revision < _options.AdvanceLimit)
        {
            _phase = Phase.Advance;
            _progress.StartAdvance(revision, _cutover);
            var put = new Rpc.PutRequest { Key = _cutoverKey };
            await Parallel.ForEachAsync(
                Enumerable.Range(0, AdvanceWriters),
                new ParallelOptions { MaxDegreeOfParallelism = AdvanceWriters, CancellationToken = cancellationToken },
                async (_, token) =>
                {
                    while (_progress.Target <= _cutover)
                    {
                        var written = await _target.CallAsync("a put", o => _target.Kv.PutAsync(put, o), token);
                        _progress.TargetAt(written.Header.Revision);
                    }
                });
            var deleted = await _target.CallAsync("a delete", o => _target.Kv.DeleteRangeAsync(new Rpc.DeleteRangeRequest { Key = _cutoverKey }, o), cancellationToken);
            revision = deleted.Header.Revision;
        }
        await _target.CallAsync("a compaction", o => _target.Kv.CompactAsync(new Rpc.CompactionRequest { Revision = revision }, o), cancellationToken);
        return revision <= _cutover
            ? string.Create(CultureInfo.InvariantCulture,
                $"Warning: {_target.Name} is at revision {revision} (compacted there), not past {_cutover}, and advancing it would take more than --advance-limit {_options.AdvanceLimit} writes: {StaleVersions}.")
            : string.Create(CultureInfo.InvariantCulture,
                $"{_target.Name} went from revision {from} to {revision}, past {_cutover}, and was compacted there: clients that kept a resourceVersion from {_source.Product} get 410 Gone and relist.");
    }

    /// <summary>What the target's revision not being past the cut-over means for clients.</summary>
    private string StaleVersions => string.Create(CultureInfo.InvariantCulture,
        $"a client that watches from a resourceVersion it kept from {_source.Product} sees no change until {_target.Product} reaches it; restart every client after the kube-apiservers (docs/migration.md)");

    private async Task RequireEmptyTargetAsync(KeyRange range, CancellationToken cancellationToken)
    {
        var held = await _target.CallAsync("a range", o => _target.Kv.RangeAsync(new Rpc.RangeRequest { Key = range.Key, RangeEnd = range.End, CountOnly = true }, o), cancellationToken);
        if (held.Count > 0)
        {
            var where = _options.Prefix.Length == 0 ? "" : $" under '{_options.Prefix}'";
            throw new StoreException(string.Create(CultureInfo.InvariantCulture, $"{_target.Name} already holds {Progress.Count(held.Count, "key")}{where}; the target must be empty"), StatusCode.FailedPrecondition);
        }
    }

    private Task<Rpc.RangeResponse> ReadPageAsync(ByteString from, ByteString end, long revision, CancellationToken cancellationToken) =>
        _source.CallAsync("a range", o => _source.Kv.RangeAsync(new Rpc.RangeRequest { Key = from, RangeEnd = end, Limit = PageSize, Revision = revision }, o), cancellationToken);

    /// <summary>Copies the snapshot: pages read in key order at its revision, batches written by a few writers at once.</summary>
    private async Task<(long Copied, long Ended)> CopyAsync(Rpc.RangeResponse first, KeyRange range, CancellationToken cancellationToken)
    {
        long copied = 0;
        long ended = 0;
        await Parallel.ForEachAsync(
            BatchesAsync(first, range, cancellationToken),
            new ParallelOptions { MaxDegreeOfParallelism = Writers, CancellationToken = cancellationToken },
            async (batch, token) =>
            {
                var left = await _writer.WriteAsync(batch, token);
                Interlocked.Add(ref copied, batch.Length - left);
                Interlocked.Add(ref ended, left);
                _progress.Copied(batch.Length);
            });
        return (copied, ended);
    }

    private async IAsyncEnumerable<Change[]> BatchesAsync(Rpc.RangeResponse page, KeyRange range, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var batch = new ChangeBatch();
        while (true)
        {
            foreach (var kv in page.Kvs)
            {
                if (kv.Key == _cutoverKey)
                {
                    _progress.ExcludeFromTotal();
                    continue;
                }
                var change = Change.Put(kv);
                if (!batch.TryAdd(change))
                {
                    yield return batch.Take();
                    batch.TryAdd(change);
                }
            }
            if (!page.More)
            {
                break;
            }
            var next = ByteString.CopyFrom([.. page.Kvs[^1].Key.Span, 0]);
            try
            {
                page = await ReadPageAsync(next, range.End, _snapshot, cancellationToken);
            }
            catch (StoreException e) when (e.Code == StatusCode.OutOfRange)
            {
                throw new StoreException(string.Create(CultureInfo.InvariantCulture,
                    $"{e.Message} (the source compacted revision {_snapshot} while the copy read it: pause its compaction while the copy runs, docs/migration.md)"), e.Code);
            }
        }
        if (batch.Count > 0)
        {
            yield return batch.Take();
        }
    }
}

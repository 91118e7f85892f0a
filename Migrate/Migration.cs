using System.Globalization;
using System.Runtime.CompilerServices;
using Google.Protobuf;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Migrate;

/// <summary>
/// One run, either way: the copy of the source's keys as of one revision R with its leases, then the source's
/// changes after R applied until the cut-over key is put on the source. <c>migrate</c> and <c>export</c> run
/// exactly this; only the stores' names differ.
/// </summary>
internal sealed class Migration
{
    private const int PageSize = 1000;
    private const int Writers = 4;

    private readonly MigrateOptions _options;
    private readonly Store _source;
    private readonly Store _target;
    private readonly TextWriter _output;
    private readonly Progress _progress;
    private readonly LeaseMirror _leases;
    private readonly TargetWriter _writer;
    private readonly ByteString _cutoverKey;
    private long _snapshot;
    private bool _tailing;

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
            $"Revisions are not preserved: {_target.Product} numbers its own, so every object's resourceVersion changes. " +
            "After the cut-over, restart the kube-apiservers on the new store: their watch caches are rebuilt and clients relist once (docs/migration.md).");

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
        _progress.Say(string.Create(CultureInfo.InvariantCulture,
            $"copied {copied} keys of revision {_snapshot} ({ended} left out: their lease had ended) and {_leases.Granted} leases; now following {_source.Name} until {_options.EffectiveCutoverKey} is put"));

        _tailing = true;
        _progress.StartTail();
        var cutover = await tail.ApplyUntilCutoverAsync(_writer, _cutoverKey, _snapshot, cancellationToken);
        var revoked = await _leases.RevokeEndedAsync(cancellationToken);
        var revision = await _target.ReachAsync(cancellationToken);
        return
        [
            string.Create(CultureInfo.InvariantCulture,
                $"Cut over at revision {cutover} of {_source.Name}: {copied} keys copied of revision {_snapshot}, {_leases.Granted} leases granted ({revoked} since ended on the source and revoked), {_progress.Changes} changes in {_progress.Revisions} revisions applied after it."),
            string.Create(CultureInfo.InvariantCulture,
                $"{_target.Name} is at revision {revision}. Point the kube-apiservers' --etcd-servers at it and restart them (docs/migration.md)."),
        ];
    }

    /// <summary>What the target holds when the run is stopped before the cut-over.</summary>
    public string Stopped() =>
        _tailing
            ? string.Create(CultureInfo.InvariantCulture, $"stopped before the cut-over: {_target.Name} has every change of {_source.Name} through revision {_progress.Through}")
            : $"stopped during the copy: {_target.Name} holds part of the keys; start again on an empty store";

    private async Task RequireEmptyTargetAsync(KeyRange range, CancellationToken cancellationToken)
    {
        var held = await _target.CallAsync("a range", o => _target.Kv.RangeAsync(new Rpc.RangeRequest { Key = range.Key, RangeEnd = range.End, CountOnly = true }, o), cancellationToken);
        if (held.Count > 0)
        {
            var where = _options.Prefix.Length == 0 ? "" : $" under '{_options.Prefix}'";
            throw new StoreException(string.Create(CultureInfo.InvariantCulture, $"{_target.Name} already holds {held.Count} keys{where}; the target must be empty"), Grpc.Core.StatusCode.FailedPrecondition);
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
            page = await ReadPageAsync(next, range.End, _snapshot, cancellationToken);
        }
        if (batch.Count > 0)
        {
            yield return batch.Take();
        }
    }
}

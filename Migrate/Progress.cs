using System.Globalization;

namespace KubeBrain.Migrate;

/// <summary>
/// The progress display on stderr: keys copied of the snapshot's total, then the source's changes applied, the
/// source's revision they reach and the source's current one, and how many of its changes wait to be applied;
/// then the target's revision while it is advanced. On a terminal one line is redrawn in place; otherwise a
/// plain line is written every few seconds when something changed.
/// </summary>
internal sealed class Progress : IAsyncDisposable
{
    private enum Stage
    {
        Copy,
        Tail,
        Advance,
    }

    private static readonly TimeSpan RedrawEvery = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan LineEvery = TimeSpan.FromSeconds(2);

    private readonly TextWriter _error;
    private readonly bool _inPlace;
    private readonly string _source;
    private readonly Func<int> _leases;
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private string _shown = "";
    private bool _lineOpen;
    private long _snapshot;
    private long _total;
    private long _copied;
    private long _sourceRevision;
    private long _through;
    private long _changes;
    private long _revisions;
    private long _waiting;
    private long _targetRevision;
    private long _pass;
    private volatile Stage _stage;

    public Progress(TextWriter error, bool inPlace, string source, Func<int> leases)
    {
        _error = error;
        _inPlace = inPlace;
        _source = source;
        _leases = leases;
        _loop = DrawAsync();
    }

    /// <summary>The source's changes applied in the tail so far.</summary>
    public long Changes => Interlocked.Read(ref _changes);

    /// <summary>The source's revisions whose changes were applied in the tail so far.</summary>
    public long Revisions => Interlocked.Read(ref _revisions);

    /// <summary>The target has every change of the source through this revision.</summary>
    public long Through => Interlocked.Read(ref _through);

    /// <summary>The copy of revision <paramref name="snapshot"/> begins, with <paramref name="total"/> keys to copy.</summary>
    public void StartCopy(long snapshot, long total)
    {
        Interlocked.Exchange(ref _total, total);
        Interlocked.Exchange(ref _snapshot, snapshot);
        Interlocked.Exchange(ref _through, snapshot);
        SourceAt(snapshot);
    }

    /// <summary>A key of the snapshot that is not copied and not counted (the cut-over key).</summary>
    public void ExcludeFromTotal() => Interlocked.Decrement(ref _total);

    public void Copied(int keys) => Interlocked.Add(ref _copied, keys);

    public void StartTail() => Enter(Stage.Tail);

    /// <summary>The target's revision is being taken from <paramref name="revision"/> past <paramref name="pass"/>.</summary>
    public void StartAdvance(long revision, long pass)
    {
        Interlocked.Exchange(ref _pass, pass);
        Interlocked.Exchange(ref _targetRevision, revision);
        Enter(Stage.Advance);
    }

    /// <summary>The target's highest revision seen while advancing it.</summary>
    public long Target => Interlocked.Read(ref _targetRevision);

    /// <summary>A write took the target to <paramref name="revision"/>.</summary>
    public void TargetAt(long revision) => Max(ref _targetRevision, revision);

    /// <summary>The source reported its revision.</summary>
    public void SourceAt(long revision) => Max(ref _sourceRevision, revision);

    /// <summary>The target has every change of the source through <paramref name="through"/>.</summary>
    public void Applied(long through, int changes, int revisions)
    {
        Interlocked.Exchange(ref _through, through);
        Interlocked.Add(ref _changes, changes);
        Interlocked.Add(ref _revisions, revisions);
        SourceAt(through);
    }

    /// <summary>The source's changes received and not yet taken up by the tail.</summary>
    public long Waiting => Interlocked.Read(ref _waiting);

    /// <summary><paramref name="changes"/> of the source's changes were received.</summary>
    public void Queued(int changes) => Interlocked.Add(ref _waiting, changes);

    /// <summary>The tail took up <paramref name="changes"/> received changes.</summary>
    public void Taken(int changes) => Interlocked.Add(ref _waiting, -changes);

    /// <summary>Writes <paramref name="line"/> on a line of its own, below the progress line.</summary>
    public void Say(string line)
    {
        lock (_lock)
        {
            CloseLine();
            _error.WriteLine(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        lock (_lock)
        {
            Show(force: true);
            CloseLine();
        }
        _stop.Dispose();
    }

    /// <summary>"1 key", "2 keys".</summary>
    public static string Count(long count, string noun) =>
        string.Create(CultureInfo.InvariantCulture, $"{count} {noun}{(count == 1 ? "" : "s")}");

    private static void Max(ref long field, long value)
    {
        var seen = Interlocked.Read(ref field);
        while (value > seen)
        {
            var was = Interlocked.CompareExchange(ref field, value, seen);
            if (was == seen)
            {
                return;
            }
            seen = was;
        }
    }

    private string Line()
    {
        var source = Interlocked.Read(ref _sourceRevision);
        var through = Interlocked.Read(ref _through);
        return _stage switch
        {
            Stage.Copy => string.Create(CultureInfo.InvariantCulture, $"copy: {Interlocked.Read(ref _copied)}/{Interlocked.Read(ref _total)} keys of revision {Interlocked.Read(ref _snapshot)}, {_leases()} leases; {_source} at revision {source}, {Count(Waiting, "change")} waiting"),
            Stage.Tail => string.Create(CultureInfo.InvariantCulture, $"tail: {Count(Interlocked.Read(ref _changes), "change")} in {Count(Interlocked.Read(ref _revisions), "revision")} applied, through revision {through}; {_source} at revision {source}, {Count(Waiting, "change")} waiting"),
            _ => string.Create(CultureInfo.InvariantCulture, $"advance: the target at revision {Target}, to pass {Interlocked.Read(ref _pass)}"),
        };
    }

    private async Task DrawAsync()
    {
        using var timer = new PeriodicTimer(_inPlace ? RedrawEvery : LineEvery);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                lock (_lock)
                {
                    Show(force: false);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed: the last state is shown once more by DisposeAsync.
        }
    }

    /// <summary>Leaves the last state of the phase that ends on a line of its own, and shows <paramref name="stage"/>'s from now on.</summary>
    private void Enter(Stage stage)
    {
        lock (_lock)
        {
            Show(force: false);
            CloseLine();
            _stage = stage;
        }
    }

    private void Show(bool force)
    {
        if (Interlocked.Read(ref _snapshot) == 0)
        {
            return;
        }
        var line = Line();
        if (line == _shown && !force)
        {
            return;
        }
        if (_inPlace)
        {
            _error.Write("\r" + line + "\u001b[K");
            _lineOpen = true;
        }
        else if (line != _shown)
        {
            _error.WriteLine(line);
        }
        _shown = line;
    }

    private void CloseLine()
    {
        if (_lineOpen)
        {
            _error.WriteLine();
            _lineOpen = false;
        }
    }
}

using System.Text;
using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Storage;

namespace KubeBrain.Tests.Storage;

/// <summary>
/// Builds log rows the way the sequencer does (etcd's generation rules) and, as the test oracle, answers what a
/// store must return for any revision. It keeps every row ever built, purged or not.
/// </summary>
internal sealed class LogModel
{
    public const string RangeId = "/registry/test/";
    public const long RangeEpoch = 3;

    private readonly List<StoredRow> _rows = [];
    private int _batchStart;
    private long _batchId;
    private int _nextSub;

    /// <summary>The newest revision built so far (1 before the first).</summary>
    public long CurrentRevision { get; private set; } = 1;

    public IReadOnlyList<StoredRow> Rows => _rows;

    public static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>Opens the next revision; the following puts and deletes belong to it.</summary>
    public LogModel Revision()
    {
        CurrentRevision++;
        _nextSub = 0;
        return this;
    }

    public LogModel Put(string key, string value, long lease = 0) => Put(Bytes(key), Bytes(value), lease);

    public LogModel Put(byte[] key, byte[] value, long lease = 0)
    {
        var previous = Newest(key);
        var live = previous is { Tombstone: false };
        Add(new StoredRow(
            CurrentRevision,
            _nextSub++,
            key,
            live ? previous!.CreateRevision : CurrentRevision,
            live ? previous!.Version + 1 : 1,
            lease,
            value,
            false,
            live ? previous!.Revision : 0,
            RangeId,
            RangeEpoch));
        return this;
    }

    public LogModel Delete(string key) => Delete(Bytes(key));

    public LogModel Delete(byte[] key)
    {
        var previous = Newest(key);
        if (previous is not { Tombstone: false })
        {
            throw new InvalidOperationException("The model deletes only live keys.");
        }
        Add(new StoredRow(CurrentRevision, _nextSub++, key, 0, 0, 0, [], true, previous.Revision, RangeId, RangeEpoch));
        return this;
    }

    /// <summary>True when <paramref name="key"/> is live at the newest revision built.</summary>
    public bool IsLive(string key) => Newest(Bytes(key)) is { Tombstone: false };

    /// <summary>Every revision built since the last batch, as one batch.</summary>
    public CommitBatch TakeBatch(long epoch)
    {
        var rows = _rows.GetRange(_batchStart, _rows.Count - _batchStart);
        _batchStart = _rows.Count;
        return new CommitBatch(epoch, ++_batchId, rows[0].Revision, CurrentRevision, rows);
    }

    /// <summary>The live key-values of <paramref name="span"/> at <paramref name="revision"/>, ascending by key.</summary>
    public List<KeyValue> LiveAt(KeySpan span, long revision)
    {
        var newest = new Dictionary<string, StoredRow>();
        foreach (var row in _rows)
        {
            if (row.Revision <= revision && span.Contains(row.Key))
            {
                newest[Convert.ToHexString(row.Key)] = row;
            }
        }
        var live = newest.Values
            .Where(row => !row.Tombstone)
            .Select(row => new KeyValue(row.Key, row.CreateRevision, row.Revision, row.Version, row.Value, row.Lease))
            .ToList();
        live.Sort((x, y) => x.Key.AsSpan().SequenceCompareTo(y.Key));
        return live;
    }

    /// <summary>The rows of revisions <paramref name="from"/>..<paramref name="to"/> in (revision, sub) order.</summary>
    public List<StoredRow> RowsBetween(long from, long to) =>
        _rows.Where(row => row.Revision >= from && row.Revision <= to).ToList();

    /// <summary>
    /// How many rows a complete purge at <paramref name="compactRevision"/> removes: those below it that are
    /// tombstones or whose key has a newer row below it.
    /// </summary>
    public int PurgeableAt(long compactRevision) =>
        _rows.Count(row => row.Revision < compactRevision
            && (row.Tombstone || _rows.Any(newer => newer.Revision > row.Revision
                && newer.Revision < compactRevision
                && newer.Key.AsSpan().SequenceEqual(row.Key))));

    private StoredRow? Newest(byte[] key) => _rows.LastOrDefault(row => row.Key.AsSpan().SequenceEqual(key));

    private void Add(StoredRow row)
    {
        if (row.Revision == 1)
        {
            throw new InvalidOperationException("Call Revision() before writing.");
        }
        _rows.Add(row);
    }
}

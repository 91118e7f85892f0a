using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.Grains.Mvcc;

/// <summary>
/// The keys of a range in key order, each with its in-memory history. The order is kept as a list of sorted
/// chunks of at most <see cref="MaxChunk"/> histories: finding a key's place takes two binary searches, and a
/// scan finds both ends of its span that way and then walks the chunks without comparing another key.
/// </summary>
internal sealed class KeyIndex
{
    private const int MaxChunk = 512;

    private readonly List<List<KeyHistory>> _chunks = [];
    private readonly Dictionary<byte[], KeyHistory> _byKey = new(ByteKeyComparer.Instance);
    private int _changes;

    public int Count => _byKey.Count;

    public KeyHistory? Find(byte[] key) => _byKey.GetValueOrDefault(key);

    public KeyHistory GetOrAdd(byte[] key)
    {
        if (!_byKey.TryGetValue(key, out var history))
        {
            history = new KeyHistory(key);
            _byKey.Add(key, history);
            Insert(history);
        }
        return history;
    }

    public void Remove(KeyHistory history)
    {
        if (!_byKey.Remove(history.Key))
        {
            return;
        }
        var (c, i) = LowerBound(history.Key);
        var chunk = _chunks[c];
        chunk.RemoveAt(i);
        if (chunk.Count == 0)
        {
            _chunks.RemoveAt(c);
        }
        _changes++;
    }

    /// <summary>
    /// The histories of the keys in <paramref name="span"/>, ascending. The index must not change between this
    /// call and the end of the walk: a walk that sees a key added or removed since throws.
    /// </summary>
    public IEnumerable<KeyHistory> Scan(KeySpan span)
    {
        if (span.IsSingle)
        {
            return Find(span.Start) is { } single ? [single] : [];
        }
        if (span.IsEmpty || _byKey.Count == 0)
        {
            return [];
        }
        var from = LowerBound(span.Start);
        var to = span.IsUnbounded ? (_chunks.Count, 0) : LowerBound(span.End!);
        return Walk(from, to, _changes);
    }

    /// <summary>Every history, for compaction. The index must not change while it is walked.</summary>
    public IEnumerable<KeyHistory> All => Walk((0, 0), (_chunks.Count, 0), _changes);

    /// <summary>
    /// The histories from one place to another, both found when the index had seen <paramref name="changes"/>
    /// changes.
    /// </summary>
    private IEnumerable<KeyHistory> Walk((int Chunk, int Index) from, (int Chunk, int Index) to, int changes)
    {
        var (c, i) = from;
        while (true)
        {
            if (changes != _changes)
            {
                throw new InvalidOperationException("the key index changed while it was walked");
            }
            if (c > to.Chunk || (c == to.Chunk && i >= to.Index))
            {
                yield break;
            }
            if (i == _chunks[c].Count)
            {
                (c, i) = (c + 1, 0);
                continue;
            }
            yield return _chunks[c][i++];
        }
    }

    /// <summary>
    /// Puts <paramref name="history"/> in its place. A full chunk is split in two halves, except when the key goes
    /// after the last one: keys that arrive in order then fill each chunk before starting the next.
    /// </summary>
    private void Insert(KeyHistory history)
    {
        _changes++;
        if (_chunks.Count == 0)
        {
            _chunks.Add([history]);
            return;
        }
        var (c, i) = LowerBound(history.Key);
        if (c == _chunks.Count)
        {
            c--;
            i = _chunks[c].Count;
        }
        var chunk = _chunks[c];
        if (chunk.Count == MaxChunk)
        {
            if (c == _chunks.Count - 1 && i == MaxChunk)
            {
                _chunks.Add([history]);
                return;
            }
            const int half = MaxChunk / 2;
            var upper = chunk.GetRange(half, MaxChunk - half);
            chunk.RemoveRange(half, MaxChunk - half);
            _chunks.Insert(c + 1, upper);
            if (i > half)
            {
                chunk = upper;
                i -= half;
            }
        }
        chunk.Insert(i, history);
    }

    /// <summary>The place of the first key at or after <paramref name="key"/>; (chunk count, 0) if none.</summary>
    private (int Chunk, int Index) LowerBound(byte[] key)
    {
        int lo = 0, hi = _chunks.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (ByteKeyComparer.Instance.Compare(_chunks[mid][^1].Key, key) < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        if (lo == _chunks.Count)
        {
            return (lo, 0);
        }
        var chunk = _chunks[lo];
        int first = 0, last = chunk.Count - 1;
        while (first < last)
        {
            var mid = (first + last) >>> 1;
            if (ByteKeyComparer.Instance.Compare(chunk[mid].Key, key) < 0)
            {
                first = mid + 1;
            }
            else
            {
                last = mid;
            }
        }
        return (lo, first);
    }
}

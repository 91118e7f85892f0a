using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.Grains.Mvcc;

/// <summary>The keys of a range in key order, each with its in-memory history.</summary>
internal sealed class KeyIndex
{
    private static readonly IComparer<KeyHistory> Order =
        Comparer<KeyHistory>.Create((a, b) => ByteKeyComparer.Instance.Compare(a.Key, b.Key));

    private readonly SortedSet<KeyHistory> _sorted = new(Order);
    private readonly Dictionary<byte[], KeyHistory> _byKey = new(ByteKeyComparer.Instance);

    public int Count => _byKey.Count;

    public KeyHistory? Find(byte[] key) => _byKey.GetValueOrDefault(key);

    public KeyHistory GetOrAdd(byte[] key)
    {
        if (!_byKey.TryGetValue(key, out var history))
        {
            history = new KeyHistory(key);
            _byKey.Add(key, history);
            _sorted.Add(history);
        }
        return history;
    }

    public void Remove(KeyHistory history)
    {
        _byKey.Remove(history.Key);
        _sorted.Remove(history);
    }

    /// <summary>The histories of the keys in <paramref name="span"/>, ascending.</summary>
    public IEnumerable<KeyHistory> Scan(KeySpan span)
    {
        if (span.IsSingle)
        {
            if (Find(span.Start) is { } single)
            {
                yield return single;
            }
            yield break;
        }
        if (span.IsEmpty || _sorted.Count == 0)
        {
            yield break;
        }
        // The view checks both bounds for every key it yields, so bounding it by the span's end (inclusive) leaves
        // only a key equal to the end to skip, which takes an equality test, not a third ordering comparison.
        var lower = new KeyHistory(span.Start);
        var upper = span.End is { Length: > 0 } end ? new KeyHistory(end) : _sorted.Max!;
        if (Order.Compare(lower, upper) > 0)
        {
            yield break;
        }
        foreach (var history in _sorted.GetViewBetween(lower, upper))
        {
            if (!span.IsUnbounded && history.Key.AsSpan().SequenceEqual(span.End))
            {
                yield break;
            }
            yield return history;
        }
    }

    /// <summary>Every history, for compaction.</summary>
    public IEnumerable<KeyHistory> All => _sorted;
}

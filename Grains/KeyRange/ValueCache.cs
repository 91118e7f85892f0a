using KubeBrain.Grains.Mvcc;

namespace KubeBrain.Grains.KeyRange;

/// <summary>
/// Bounds how many bytes of committed values a key range keeps in memory. Every committed version of the index whose
/// value is in memory is counted, and is in the clock, in the order its value came in; when the values exceed the
/// budget the oldest are evicted, except those read since the clock last passed them
/// (<see cref="KeyVersion.Referenced"/>), which go round once more. An evicted value is read back from the store
/// when a request needs it. A version that leaves the index is released at once; its place in the clock is skipped
/// when the clock reaches it, and once such places outnumber the counted ones the clock is rebuilt without them.
/// Empty values (tombstones) cost nothing and are never evicted. A budget of <see cref="long.MaxValue"/> keeps every
/// value and no clock.
/// </summary>
internal sealed class ValueCache(long budget)
{
    private Queue<KeyVersion> _clock = new();
    private long _bytes;
    private int _counted;

    /// <summary>Takes in a committed version whose value has just come into memory, evicting older values if need be.</summary>
    public void Admit(KeyVersion version)
    {
        if (budget == long.MaxValue || version.Value is not { Length: > 0 } value)
        {
            return;
        }
        _clock.Enqueue(version);
        _bytes += value.Length;
        _counted++;
        var passes = 2 * _clock.Count;
        while (_bytes > budget && passes-- > 0)
        {
            var oldest = _clock.Dequeue();
            if (oldest.Value is null)
            {
                continue;
            }
            if (oldest.Referenced)
            {
                oldest.Referenced = false;
                _clock.Enqueue(oldest);
                continue;
            }
            Release(oldest);
        }
        if (_clock.Count > 2 * _counted + 1024)
        {
            _clock = new Queue<KeyVersion>(_clock.Where(v => v.Value is not null).Distinct(ReferenceEqualityComparer.Instance).Cast<KeyVersion>());
        }
    }

    /// <summary>Drops the value of a committed version of the index, evicted or leaving the index.</summary>
    public void Release(KeyVersion version)
    {
        if (budget == long.MaxValue || version.Value is not { Length: > 0 } value)
        {
            return;
        }
        _bytes -= value.Length;
        _counted--;
        version.Evict();
    }
}

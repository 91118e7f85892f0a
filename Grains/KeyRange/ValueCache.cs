using KubeBrain.Grains.Mvcc;

namespace KubeBrain.Grains.KeyRange;

/// <summary>
/// Bounds how many bytes of committed values a key range keeps in memory. Every committed version whose value is in
/// memory is in the clock once, in the order its value came in; when the values exceed the budget the oldest are
/// evicted, except those read since the clock last passed them (<see cref="KeyVersion.Referenced"/>), which go round
/// once more. An evicted value is read back from the store when a request needs it. Empty values (tombstones) cost
/// nothing and are never evicted. Versions that left the index stay in the clock until it passes them.
/// </summary>
internal sealed class ValueCache(long budget)
{
    private readonly Queue<KeyVersion> _clock = new();
    private long _bytes;

    /// <summary>The bytes of the values in the clock.</summary>
    public long Bytes => _bytes;

    /// <summary>Takes in a committed version whose value has just come into memory, evicting older values if need be.</summary>
    public void Admit(KeyVersion version)
    {
        if (version.Value is not { Length: > 0 } value)
        {
            return;
        }
        _clock.Enqueue(version);
        _bytes += value.Length;
        var passes = 2 * _clock.Count;
        while (_bytes > budget && passes-- > 0)
        {
            var oldest = _clock.Dequeue();
            if (oldest.Referenced)
            {
                oldest.Referenced = false;
                _clock.Enqueue(oldest);
                continue;
            }
            _bytes -= oldest.Value!.Length;
            oldest.Evict();
        }
    }
}

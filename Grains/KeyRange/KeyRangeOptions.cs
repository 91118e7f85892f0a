namespace KubeBrain.Grains.KeyRange;

/// <summary>Settings of the key range grains.</summary>
public sealed class KeyRangeOptions
{
    /// <summary>
    /// How long a multi-range group may hold a range's lock before the range gives up on it and reloads from the
    /// store. Longer than a group takes even while the sequencer fails over, so it only ends groups whose
    /// coordinator is gone.
    /// </summary>
    public TimeSpan GroupLockLease { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How many bytes of committed values a key range keeps in memory (<see cref="ValueCache"/>); the others are
    /// read from the store when a request needs them. Keys and the rest of every version stay in memory.
    /// </summary>
    public long ValueCacheBytes { get; set; } = DefaultValueCacheBytes;

    /// <summary>64 MiB.</summary>
    public const long DefaultValueCacheBytes = 64L << 20;
}

using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.Grains.Mvcc;

/// <summary>A consistent view of live keys that a transaction is evaluated against.</summary>
internal interface IKvView
{
    /// <summary>The live version of <paramref name="key"/>, or null.</summary>
    KeyVersion? Get(byte[] key);

    /// <summary>The live versions in <paramref name="span"/>, ascending by key.</summary>
    IEnumerable<KeyVersion> Scan(KeySpan span);

    /// <summary>
    /// The value of a version this view returned. A view over a range's memory answers an empty value for one
    /// that is neither in memory nor read yet, and records it in its <see cref="FetchedValues"/>: the evaluation
    /// is then to be repeated once the value is read.
    /// </summary>
    byte[] ValueOf(KeyVersion version);
}

/// <summary>
/// A range's index seen either at its newest state, pending versions included (the write path), or as of a
/// committed revision (reads); values not in memory come from <paramref name="fetched"/>.
/// </summary>
internal sealed class IndexView(KeyIndex index, long? revision, FetchedValues fetched) : IKvView
{
    public KeyVersion? Get(byte[] key) => index.Find(key) is { } history ? Visible(history) : null;

    public byte[] ValueOf(KeyVersion version)
    {
        if (version.Value is { } value)
        {
            version.Referenced = true;
            return value;
        }
        return fetched.Get(version) ?? [];
    }

    public IEnumerable<KeyVersion> Scan(KeySpan span)
    {
        foreach (var history in index.Scan(span))
        {
            if (Visible(history) is { } version)
            {
                yield return version;
            }
        }
    }

    private KeyVersion? Visible(KeyHistory history) => revision is { } r ? history.LiveAt(r) : history.LatestLive;
}

/// <summary>A view over committed key-values gathered from several ranges.</summary>
internal sealed class SnapshotView : IKvView
{
    private readonly SortedList<byte[], KeyVersion> _versions = new(ByteKeyComparer.Instance);

    public SnapshotView(IEnumerable<KeyValue> kvs)
    {
        foreach (var kv in kvs)
        {
            _versions[kv.Key] = KeyVersion.FromCommitted(kv);
        }
    }

    public KeyVersion? Get(byte[] key) => _versions.GetValueOrDefault(key);

    public byte[] ValueOf(KeyVersion version) => version.Value!;

    public IEnumerable<KeyVersion> Scan(KeySpan span)
    {
        if (span.IsSingle)
        {
            return Get(span.Start) is { } v ? [v] : [];
        }
        return _versions.Values.Where(v => span.Contains(v.Key));
    }
}

/// <summary>A view with a transaction's own writes laid over it, so later operations see earlier ones.</summary>
internal sealed class OverlayView(IKvView inner) : IKvView
{
    private readonly SortedList<byte[], KeyVersion> _writes = new(ByteKeyComparer.Instance);

    public void Write(KeyVersion version) => _writes[version.Key] = version;

    /// <summary>True when the transaction already wrote <paramref name="key"/>.</summary>
    public bool HasWrite(byte[] key) => _writes.ContainsKey(key);

    public byte[] ValueOf(KeyVersion version) => version.IsPending ? version.Value! : inner.ValueOf(version);

    public KeyVersion? Get(byte[] key) =>
        _writes.TryGetValue(key, out var written) ? (written.Tombstone ? null : written) : inner.Get(key);

    public IEnumerable<KeyVersion> Scan(KeySpan span)
    {
        if (_writes.Count == 0)
        {
            return inner.Scan(span);
        }
        return Merge(inner.Scan(span), _writes.Values.Where(v => span.Contains(v.Key)));
    }

    private static IEnumerable<KeyVersion> Merge(IEnumerable<KeyVersion> below, IEnumerable<KeyVersion> above)
    {
        using var b = below.GetEnumerator();
        using var a = above.GetEnumerator();
        var hasB = b.MoveNext();
        var hasA = a.MoveNext();
        while (hasB || hasA)
        {
            var order = !hasA ? -1 : !hasB ? 1 : ByteKeyComparer.Instance.Compare(b.Current.Key, a.Current.Key);
            if (order < 0)
            {
                yield return b.Current;
                hasB = b.MoveNext();
                continue;
            }
            if (!a.Current.Tombstone)
            {
                yield return a.Current;
            }
            hasA = a.MoveNext();
            if (order == 0)
            {
                hasB = b.MoveNext();
            }
        }
    }
}

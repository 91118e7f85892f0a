namespace KubeBrain.Grains.Mvcc;

/// <summary>
/// The versions of one key held in memory, oldest first: committed versions, then pending ones. The oldest may
/// be the version loaded at activation; history older than that lives only in the store. Most keys hold one
/// version (every key loaded at activation, and every key once compaction has passed its last write), so one
/// version is held without a list.
/// </summary>
internal sealed class KeyHistory(byte[] key)
{
    private KeyVersion? _one;
    private List<KeyVersion>? _many;

    public byte[] Key { get; } = key;

    /// <summary>How many versions are held.</summary>
    public int Count => _many?.Count ?? (_one is null ? 0 : 1);

    /// <summary>The newest version, pending or not, if it is live.</summary>
    public KeyVersion? LatestLive =>
        (_many is { } many ? many[^1] : _one) is { Tombstone: false } newest ? newest : null;

    /// <summary>Adds a version newer than every version held.</summary>
    public void Add(KeyVersion version)
    {
        if (_many is not null)
        {
            _many.Add(version);
        }
        else if (_one is null)
        {
            _one = version;
        }
        else
        {
            _many = [_one, version];
            _one = null;
        }
    }

    /// <summary>The newest committed version at or below <paramref name="revision"/>, if it is live.</summary>
    public KeyVersion? LiveAt(long revision)
    {
        if (_many is null)
        {
            return _one is { IsPending: false, Tombstone: false } one && one.Revision <= revision ? one : null;
        }
        for (var i = _many.Count - 1; i >= 0; i--)
        {
            var v = _many[i];
            if (!v.IsPending && v.Revision <= revision)
            {
                return v.Tombstone ? null : v;
            }
        }
        return null;
    }

    /// <summary>Drops every pending version.</summary>
    public void RemovePending()
    {
        if (_many is null)
        {
            _one = _one is { IsPending: true } ? null : _one;
            return;
        }
        _many.RemoveAll(v => v.IsPending);
        Shrink();
    }

    /// <summary>
    /// Drops versions no read at or above <paramref name="compactRevision"/> needs: everything older than the
    /// newest committed version at or below it, and that one too if it is a tombstone. Each dropped version is
    /// passed to <paramref name="dropped"/>.
    /// </summary>
    public void Compact(long compactRevision, Action<KeyVersion> dropped)
    {
        if (_many is null)
        {
            if (_one is { IsPending: false, Tombstone: true } one && one.Revision <= compactRevision)
            {
                dropped(one);
                _one = null;
            }
            return;
        }
        var keepFrom = _many.FindLastIndex(v => !v.IsPending && v.Revision <= compactRevision);
        if (keepFrom < 0)
        {
            return;
        }
        if (_many[keepFrom].Tombstone)
        {
            keepFrom++;
        }
        for (var i = 0; i < keepFrom; i++)
        {
            dropped(_many[i]);
        }
        _many.RemoveRange(0, keepFrom);
        Shrink();
    }

    /// <summary>Goes back to holding one version (or none) without a list once at most one is left.</summary>
    private void Shrink()
    {
        if (_many!.Count <= 1)
        {
            _one = _many.Count == 1 ? _many[0] : null;
            _many = null;
        }
    }
}

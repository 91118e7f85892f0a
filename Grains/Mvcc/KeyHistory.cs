namespace KubeBrain.Grains.Mvcc;

/// <summary>
/// The versions of one key held in memory, oldest first: committed versions, then pending ones. The oldest may
/// be the version loaded at activation; history older than that lives only in the store.
/// </summary>
internal sealed class KeyHistory(byte[] key)
{
    public byte[] Key { get; } = key;

    public List<KeyVersion> Versions { get; } = [];

    /// <summary>The newest version, pending or not, if it is live.</summary>
    public KeyVersion? LatestLive => Versions.Count > 0 && !Versions[^1].Tombstone ? Versions[^1] : null;

    /// <summary>The newest committed version at or below <paramref name="revision"/>, if it is live.</summary>
    public KeyVersion? LiveAt(long revision)
    {
        for (var i = Versions.Count - 1; i >= 0; i--)
        {
            var v = Versions[i];
            if (!v.IsPending && v.Revision <= revision)
            {
                return v.Tombstone ? null : v;
            }
        }
        return null;
    }

    /// <summary>
    /// Drops versions no read at or above <paramref name="compactRevision"/> needs: everything older than the
    /// newest committed version at or below it, and that one too if it is a tombstone.
    /// </summary>
    public void Compact(long compactRevision)
    {
        var keepFrom = Versions.FindLastIndex(v => !v.IsPending && v.Revision <= compactRevision);
        if (keepFrom < 0)
        {
            return;
        }
        if (Versions[keepFrom].Tombstone)
        {
            keepFrom++;
        }
        Versions.RemoveRange(0, keepFrom);
    }
}

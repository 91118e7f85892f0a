using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.Grains.Storage;

/// <summary>
/// Key groups, by which the SQL stores index their logs instead of by key: the group of a key
/// <c>/registry/&lt;segment&gt;/…</c> with a segment of at least one byte is that prefix, with the slash after the
/// segment (a Kubernetes resource); every other key is in the empty group. An append adds at the end of each group
/// it writes, where an index on keys takes an insert at a random place per row; a read of a span that lies in one
/// group scans only that group's rows. Each store's index expression computes exactly this rule.
/// </summary>
internal static class KeyGroups
{
    private static readonly byte[] RegistryPrefix = "/registry/"u8.ToArray();

    /// <summary>The first key above every key that starts with <see cref="RegistryPrefix"/>.</summary>
    private static readonly byte[] RegistryEnd = "/registry0"u8.ToArray();

    /// <summary>
    /// The key group every key of <paramref name="span"/> belongs to (any segment bytes, where <c>KeyRouter</c>'s
    /// ranges take printable ASCII only); null when its keys may belong to several. A single key has its own group,
    /// empty or not. A non-empty group <c>G</c> ends in '/' and holds every key from <c>G</c> up to, not including,
    /// <c>G</c> with that last '/' made '0'. The empty group holds every key below <c>/registry/</c> and from
    /// <c>/registry0</c> on (a span on either side lies in it), and some keys between them.
    /// </summary>
    public static byte[]? Of(KeySpan span)
    {
        var group = OfKey(span.Start);
        if (span.IsSingle)
        {
            return group;
        }
        if (OutsideTheRegistry(span))
        {
            return [];
        }
        if (group.Length == 0 || span.IsUnbounded)
        {
            return null;
        }
        var groupEnd = group.ToArray();
        groupEnd[^1]++;
        return span.End.AsSpan().SequenceCompareTo(groupEnd) <= 0 ? group : null;
    }

    private static bool OutsideTheRegistry(KeySpan span) =>
        (!span.IsUnbounded && span.End.AsSpan().SequenceCompareTo(RegistryPrefix) <= 0) || span.Start.AsSpan().SequenceCompareTo(RegistryEnd) >= 0;

    private static byte[] OfKey(ReadOnlySpan<byte> key)
    {
        if (!key.StartsWith(RegistryPrefix))
        {
            return [];
        }
        var slash = key[RegistryPrefix.Length..].IndexOf((byte)'/');
        return slash < 1 ? [] : key[..(RegistryPrefix.Length + slash + 1)].ToArray();
    }
}

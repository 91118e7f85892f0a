using System.Text;
using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.Grains.Interfaces;

/// <summary>
/// Maps keys to key ranges by a pure function of the key. Kubernetes keys <c>/registry/&lt;segment&gt;/…</c>
/// (segment of printable ASCII) belong to the range named by their prefix <c>/registry/&lt;segment&gt;/</c> (one
/// range per resource, or per API group for grouped resources); every other key belongs to the <see cref="DefaultRange"/>. A registry
/// range owns exactly the keys of the interval [prefix, prefix with its last '/' replaced by '0').
/// </summary>
public static class KeyRouter
{
    /// <summary>The id of the range that owns every key outside <c>/registry/&lt;segment&gt;/</c>.</summary>
    public const string DefaultRange = "default";

    private static readonly byte[] RegistryPrefix = "/registry/"u8.ToArray();
    private static readonly byte[] RegistryEnd = "/registry0"u8.ToArray();

    /// <summary>The range that owns <paramref name="key"/>.</summary>
    public static string RangeOf(ReadOnlySpan<byte> key)
    {
        var prefixLength = RegistryPrefixLength(key);
        return prefixLength == 0 ? DefaultRange : Encoding.UTF8.GetString(key[..prefixLength]);
    }

    /// <summary>
    /// The one range that owns every key <paramref name="span"/> can hold, by the key function alone; null when
    /// the span may hold keys of several ranges.
    /// </summary>
    public static string? OwnerOf(KeySpan span)
    {
        if (span.IsSingle)
        {
            return RangeOf(span.Start);
        }
        var prefixLength = RegistryPrefixLength(span.Start);
        if (prefixLength > 0)
        {
            var end = PrefixEnd(span.Start.AsSpan(0, prefixLength));
            return !span.IsUnbounded && span.End.AsSpan().SequenceCompareTo(end) <= 0 ? RangeOf(span.Start) : null;
        }
        return span.Overlaps(new KeySpan(RegistryPrefix, RegistryEnd)) ? null : DefaultRange;
    }

    /// <summary>The ranges of <paramref name="rangeIds"/> that may hold keys of <paramref name="span"/>, ascending.</summary>
    public static IReadOnlyList<string> RangesFor(KeySpan span, IReadOnlyList<string> rangeIds)
    {
        if (OwnerOf(span) is { } owner)
        {
            return [owner];
        }
        var result = new SortedSet<string>(StringComparer.Ordinal) { DefaultRange };
        foreach (var id in rangeIds)
        {
            if (id != DefaultRange && span.Overlaps(DomainOf(id)))
            {
                result.Add(id);
            }
        }
        return [.. result];
    }

    /// <summary>The interval a registry range owns.</summary>
    public static KeySpan DomainOf(string registryRangeId)
    {
        var prefix = Encoding.UTF8.GetBytes(registryRangeId);
        return new KeySpan(prefix, PrefixEnd(prefix));
    }

    private static byte[] PrefixEnd(ReadOnlySpan<byte> prefixEndingInSlash)
    {
        var end = prefixEndingInSlash.ToArray();
        end[^1]++;
        return end;
    }

    private static int RegistryPrefixLength(ReadOnlySpan<byte> key)
    {
        if (!key.StartsWith(RegistryPrefix))
        {
            return 0;
        }
        var rest = key[RegistryPrefix.Length..];
        var slash = rest.IndexOf((byte)'/');
        return slash > 0 && !rest[..slash].ContainsAnyExceptInRange((byte)0x21, (byte)0x7e) ? RegistryPrefix.Length + slash + 1 : 0;
    }
}

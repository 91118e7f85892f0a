namespace KubeBrain.Grains.Interfaces.Model;

/// <summary>
/// A set of keys in etcd's terms, normalised: a single key (<see cref="End"/> is null), every key at or after
/// <see cref="Start"/> (<see cref="End"/> is empty, etcd's <c>range_end = "\0"</c>), or the half-open interval
/// [<see cref="Start"/>, <see cref="End"/>). Keys compare as unsigned bytes.
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.KeySpan")]
public sealed record KeySpan([property: Id(0)] byte[] Start, [property: Id(1)] byte[]? End)
{
    /// <summary>The span holding exactly one key.</summary>
    public static KeySpan Single(byte[] key) => new(key, null);

    /// <summary>True when the span names exactly one key.</summary>
    public bool IsSingle => End is null;

    /// <summary>True when the span has no upper bound.</summary>
    public bool IsUnbounded => End is { Length: 0 };

    /// <summary>True when <paramref name="key"/> lies in the span.</summary>
    public bool Contains(ReadOnlySpan<byte> key)
    {
        if (End is null)
        {
            return key.SequenceEqual(Start);
        }
        return key.SequenceCompareTo(Start) >= 0 && (End.Length == 0 || key.SequenceCompareTo(End) < 0);
    }

    /// <summary>True when no key can lie in the span (an interval whose end is not after its start).</summary>
    public bool IsEmpty => End is { Length: > 0 } && End.AsSpan().SequenceCompareTo(Start) <= 0;

    /// <summary>True when the two spans share at least one key.</summary>
    public bool Overlaps(KeySpan other)
    {
        if (IsEmpty || other.IsEmpty)
        {
            return false;
        }
        if (IsSingle)
        {
            return other.Contains(Start);
        }
        if (other.IsSingle)
        {
            return Contains(other.Start);
        }
        var thisEndsBeforeOther = !IsUnbounded && End.AsSpan().SequenceCompareTo(other.Start) <= 0;
        var otherEndsBeforeThis = !other.IsUnbounded && other.End.AsSpan().SequenceCompareTo(Start) <= 0;
        return !thisEndsBeforeOther && !otherEndsBeforeThis;
    }
}

using System.Numerics;

namespace KubeBrain.Benchmarks;

/// <summary>
/// Latencies in microseconds, log-bucketed: values below 256 µs exactly, larger ones in 128 sub-buckets per
/// power of two (under 0.8 % error). Safe to record from many threads at once.
/// </summary>
public sealed class Histogram
{
    private const int ExactBelow = 256;
    private const int SubBuckets = 128;
    private const int MaxShift = 40;

    private readonly long[] _counts = new long[ExactBelow + (MaxShift * SubBuckets)];
    private long _count;
    private long _sum;
    private long _min = long.MaxValue;
    private long _max;

    public long Count => Interlocked.Read(ref _count);

    public void Record(TimeSpan elapsed) => Record((long)elapsed.TotalMicroseconds);

    public void Record(long micros)
    {
        micros = Math.Max(0, micros);
        Interlocked.Increment(ref _counts[Index(micros)]);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sum, micros);
        long seen;
        while (micros < (seen = Interlocked.Read(ref _min)) && Interlocked.CompareExchange(ref _min, micros, seen) != seen)
        {
        }
        while (micros > (seen = Interlocked.Read(ref _max)) && Interlocked.CompareExchange(ref _max, micros, seen) != seen)
        {
        }
    }

    /// <summary>Adds <paramref name="other"/>'s samples to this one's.</summary>
    public void Add(Histogram other)
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }
        _count += other._count;
        _sum += other._sum;
        _min = Math.Min(_min, other._min);
        _max = Math.Max(_max, other._max);
    }

    /// <summary>The value at or below which <paramref name="percent"/> % of the samples lie, in microseconds.</summary>
    public long Percentile(double percent)
    {
        if (_count == 0)
        {
            return 0;
        }
        var rank = Math.Max(1, (long)Math.Ceiling(percent / 100 * _count));
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Clamp(Middle(i), _min, _max);
            }
        }
        return _max;
    }

    public LatencySummary Summary() => _count == 0
        ? new LatencySummary(0, 0, 0, 0, 0, 0, 0, 0)
        : new LatencySummary(_count, (double)_sum / _count, _min, Percentile(50), Percentile(90), Percentile(99), Percentile(99.9), _max);

    private static int Index(long micros)
    {
        if (micros < ExactBelow)
        {
            return (int)micros;
        }
        var shift = Math.Min(MaxShift, 63 - BitOperations.LeadingZeroCount((ulong)micros) - 7);
        var top = Math.Min(2 * SubBuckets - 1, micros >> shift);
        return ExactBelow + ((shift - 1) * SubBuckets) + (int)(top - SubBuckets);
    }

    private static long Middle(int index)
    {
        if (index < ExactBelow)
        {
            return index;
        }
        var j = index - ExactBelow;
        var shift = (j / SubBuckets) + 1;
        var top = (long)((j % SubBuckets) + SubBuckets);
        return (top << shift) + ((1L << shift) / 2);
    }
}

/// <summary>A latency distribution in microseconds.</summary>
public sealed record LatencySummary(long Count, double Mean, long Min, long P50, long P90, long P99, long P999, long Max);

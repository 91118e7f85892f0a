using System.Diagnostics;
using System.Diagnostics.Metrics;
using KubeBrain.Grains.Interfaces;

namespace KubeBrain.Grains.Storage;

/// <summary>
/// The store's instruments on the KubeBrain meter: the group commit (revisions and rows per append, and the
/// append's latency), recorded by the sequencer, and the latency of the reads that go to the store (a range
/// loading its keys, answering a revision older than its load or reading values it no longer holds, the watch
/// feed reading revisions that left its in-memory tail).
/// </summary>
public sealed class StoreMetrics
{
    /// <summary>etcd's buckets for its backend commit: 1 ms doubling to 8 s.</summary>
    private static readonly double[] SecondsBuckets = [.. Enumerable.Range(0, 14).Select(i => 0.001 * (1 << i))];

    private static readonly long[] CountBuckets = [.. Enumerable.Range(0, 14).Select(i => 1L << i)];

    private static readonly KeyValuePair<string, object?> RangeTag = new("operation", "range");
    private static readonly KeyValuePair<string, object?> RevisionsTag = new("operation", "revisions");
    private static readonly KeyValuePair<string, object?> ValuesTag = new("operation", "values");

    private readonly Histogram<long> _batchRevisions;
    private readonly Histogram<long> _batchRows;
    private readonly Histogram<double> _append;
    private readonly Histogram<double> _read;

    public StoreMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(KubeBrainMeter.Name);
        _batchRevisions = meter.CreateHistogram(
            "kubebrain_group_commit_batch_revisions", null, "Revisions committed by one group commit (one storage transaction).", null,
            new InstrumentAdvice<long> { HistogramBucketBoundaries = CountBuckets });
        _batchRows = meter.CreateHistogram(
            "kubebrain_group_commit_batch_rows", null, "Rows (key versions and tombstones) written by one group commit.", null,
            new InstrumentAdvice<long> { HistogramBucketBoundaries = CountBuckets });
        _append = meter.CreateHistogram(
            "kubebrain_storage_append_seconds", null, "Latency of the storage transaction of one group commit, until it is durable.", null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _read = meter.CreateHistogram(
            "kubebrain_storage_read_seconds", null, "Latency of reads from the store, by operation (range, revisions or values).", null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
    }

    /// <summary>Records a durable append of <paramref name="revisions"/> revisions in <paramref name="rows"/> rows.</summary>
    public void Appended(long revisions, int rows, TimeSpan elapsed)
    {
        _batchRevisions.Record(revisions);
        _batchRows.Record(rows);
        _append.Record(elapsed.TotalSeconds);
    }

    /// <summary>Runs a read of the store and records how long it took.</summary>
    public async Task<T> TimeAsync<T>(StoreRead read, Func<Task<T>> run)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            return await run();
        }
        finally
        {
            _read.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, read switch
            {
                StoreRead.Range => RangeTag,
                StoreRead.Revisions => RevisionsTag,
                _ => ValuesTag,
            });
        }
    }
}

/// <summary>
/// What a timed read of the store was: a key range read, whole revisions for the watch feed, or values a key range
/// no longer held in memory.
/// </summary>
public enum StoreRead
{
    Range,
    Revisions,
    Values,
}

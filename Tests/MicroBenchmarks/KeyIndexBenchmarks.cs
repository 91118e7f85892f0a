using BenchmarkDotNet.Attributes;
using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Mvcc;

namespace KubeBrain.MicroBenchmarks;

/// <summary>
/// A key range's in-memory index (<see cref="KeyIndex"/> seen through <see cref="IndexView"/>), holding
/// 10,000 pods with three versions each: the lookups a Range is served from, and the inserts a commit makes.
/// </summary>
[MemoryDiagnoser]
public class KeyIndexBenchmarks
{
    private static readonly Action<KeyVersion> Dropped = _ => { };

    private KeyIndex _index = null!;
    private byte[] _key = null!;
    private KeySpan _namespace = null!;
    private RangeQuery _list = null!;
    private KeyHistory _updated = null!;
    private byte[] _newKey = null!;
    private byte[] _value = null!;
    private long _revision;

    [GlobalSetup]
    public void Setup()
    {
        _index = Workload.Index();
        _key = Workload.Key(7, 123);
        _namespace = Workload.Namespace(7);
        _list = new RangeQuery(_namespace, Workload.MiddleRevision, 0, false, false);
        _updated = _index.Find(Workload.Key(3, 45))!;
        _newKey = "/registry/pods/ns-07/pod-0123a"u8.ToArray();
        _value = Workload.Value(-1);
        _revision = Workload.LastRevision;
    }

    /// <summary>One key's live version as of a past revision: at most the view and its record of values read from the store.</summary>
    [Benchmark]
    [AllocationBudget(80)]
    public object? PointGetAtRevision() => new IndexView(_index, Workload.MiddleRevision, new FetchedValues()).Get(_key);

    /// <summary>The live versions of one namespace's 500 keys as of a past revision, walked in key order.</summary>
    [Benchmark]
    [AllocationBudget(240)]
    public int Scan500AtRevision()
    {
        var count = 0;
        foreach (var version in new IndexView(_index, Workload.MiddleRevision, new FetchedValues()).Scan(_namespace))
        {
            count += version.Key.Length > 0 ? 1 : 0;
        }
        return count;
    }

    /// <summary>A key range's whole answer to listing one namespace (500 keys) at a past revision: scan and shape.</summary>
    [Benchmark]
    [AllocationBudget(60_000)]
    public RangeResult Range500AtRevision() => TxnEvaluator.Range(_list, new IndexView(_index, _list.Revision, new FetchedValues())).Shape();

    /// <summary>
    /// A committed update of an existing key: its new version goes into the key's history, settles, and the
    /// replaced version is compacted away (so every call leaves the history as it found it).
    /// </summary>
    [Benchmark]
    [AllocationBudget(296)]
    public int InsertRevisionOfExistingKey()
    {
        var version = KeyVersion.NewPut(_updated.Key, _value, 0, _updated.LatestLive, _updated.LatestLive!.Value!);
        _index.GetOrAdd(_updated.Key).Add(version);
        version.Revision = ++_revision;
        version.Settle();
        _updated.Compact(_revision, Dropped);
        return _updated.Count;
    }

    /// <summary>A key created and then removed again, as a create and its compacted delete leave the index.</summary>
    [Benchmark]
    [AllocationBudget(176)]
    public int AddAndRemoveKey()
    {
        var history = _index.GetOrAdd(_newKey);
        history.Add(KeyVersion.NewPut(_newKey, _value, 0, null, []));
        _index.Remove(history);
        return _index.Count;
    }
}

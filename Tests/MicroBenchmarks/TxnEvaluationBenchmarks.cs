using BenchmarkDotNet.Attributes;
using KubeBrain.EtcdFrontend.Mapping;
using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Mvcc;

namespace KubeBrain.MicroBenchmarks;

/// <summary>
/// Transactions as a key range evaluates them (<see cref="TxnEvaluator"/>) against its index of 10,000 pods:
/// compares decide the branch, the branch's ops run over the index with the transaction's own writes laid
/// over it, and the result is materialized as it is once the revision is known. The transactions are built as
/// the frontend maps them. Evaluation writes nothing into the index, so every call sees the same state.
/// </summary>
[MemoryDiagnoser]
public class TxnEvaluationBenchmarks
{
    private KeyIndex _index = null!;
    private TxnRequest _put = null!;
    private TxnRequest _update = null!;
    private TxnRequest _staleUpdate = null!;
    private TxnRequest _deleteNamespace = null!;

    [GlobalSetup]
    public void Setup()
    {
        _index = Workload.Index();
        var pod = Workload.Pod(5, 250, Workload.Updates);
        var value = Workload.Value(-1);
        _put = new TxnRequest([], [new PutOp(pod.Key, value, 0, false, false, false)], []);
        _update = ProtoMapping.ToTxn(Workload.GuaranteedUpdate(pod, value, pod.ModRevision));
        _staleUpdate = ProtoMapping.ToTxn(Workload.GuaranteedUpdate(pod, value, pod.ModRevision - 1));
        _deleteNamespace = new TxnRequest([], [new DeleteOp(Workload.Namespace(9), true)], []);
    }

    /// <summary>A Put (a transaction of one put) of an existing key.</summary>
    [Benchmark]
    [AllocationBudget(1_250)]
    public TxnResult Put() => Commit(_put);

    /// <summary>The kube-apiserver's update: the key's mod revision is unchanged, so the put runs.</summary>
    [Benchmark]
    [AllocationBudget(1_450)]
    public TxnResult GuaranteedUpdate() => Commit(_update);

    /// <summary>The kube-apiserver's update with a stale mod revision: the compare fails and the key is read instead.</summary>
    [Benchmark]
    [AllocationBudget(1_750)]
    public TxnResult GuaranteedUpdateConflict()
    {
        var evaluation = TxnEvaluator.Evaluate(_staleUpdate, new IndexView(_index, null, new FetchedValues()))!;
        return evaluation.Result.ToResult(Workload.LastRevision, wrote: false);
    }

    /// <summary>A DeleteRange of one namespace (500 keys) with prev_kv.</summary>
    [Benchmark]
    [AllocationBudget(135_000)]
    public TxnResult DeleteNamespaceWithPrevKv() => Commit(_deleteNamespace);

    /// <summary>
    /// What is worked out of the update besides its evaluation: its owner and whether it writes (the frontend, for
    /// every request), and its key set (a key range, when a group holds locks or the update turns into a read).
    /// </summary>
    [Benchmark]
    [AllocationBudget(350)]
    public int RouteGuaranteedUpdate()
    {
        var owner = TxnKeys.OwnerOf(_update);
        return TxnKeys.IsReadOnly(_update) ? 0 : TxnKeys.SpansOf(_update).Count + owner!.Length;
    }

    /// <summary>Evaluates at the newest state and materializes the result as committed at the next revision.</summary>
    private TxnResult Commit(TxnRequest txn)
    {
        var evaluation = TxnEvaluator.Evaluate(txn, new IndexView(_index, null, new FetchedValues()))!;
        return evaluation.Result.ToResult(Workload.LastRevision + 1, wrote: evaluation.Writes.Count > 0);
    }
}

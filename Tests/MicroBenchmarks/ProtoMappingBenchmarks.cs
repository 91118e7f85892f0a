using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using KubeBrain.EtcdFrontend;
using KubeBrain.EtcdFrontend.Mapping;
using KubeBrain.Grains.Interfaces.Model;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.MicroBenchmarks;

/// <summary>
/// <see cref="ProtoMapping"/>, where etcd's protobuf requests become the project's records and results become
/// protobuf responses, each as the KV service calls it (the response header included).
/// </summary>
[MemoryDiagnoser]
public class ProtoMappingBenchmarks
{
    private ResponseHeaders _headers = null!;
    private Rpc.PutRequest _put = null!;
    private Rpc.RangeRequest _list = null!;
    private Rpc.TxnRequest _update = null!;
    private RangeResult _listed = null!;
    private TxnResult _updated = null!;

    [GlobalSetup]
    public void Setup()
    {
        _headers = Workload.Headers();
        var pod = Workload.Pod(4, 321, 0);
        var value = ByteString.CopyFrom(Workload.Value(-1));
        _put = new Rpc.PutRequest { Key = ByteString.CopyFrom(pod.Key), Value = value };
        var ns = Workload.Namespace(4);
        _list = new Rpc.RangeRequest { Key = ByteString.CopyFrom(ns.Start), RangeEnd = ByteString.CopyFrom(ns.End), Limit = 500 };
        _update = Workload.GuaranteedUpdate(pod, Workload.Value(-1), pod.ModRevision);
        _listed = new RangeResult(KvStatus.Ok, [.. Enumerable.Range(0, Workload.PodsPerNamespace).Select(p => Workload.Pod(4, p, 0))], Workload.PodsPerNamespace, false);
        _updated = new TxnResult(KvStatus.Ok, true, [new PutOpResult(null) { HeaderRevision = Workload.LastRevision + 1 }], Workload.LastRevision + 1);
    }

    /// <summary>A PutRequest with a 1 KiB value (its bytes are shared, not copied), as the one-op transaction Put travels as.</summary>
    [Benchmark]
    [AllocationBudget(150)]
    public TxnRequest PutRequestToTxn() => new([], [ProtoMapping.ToOp(_put)], []);

    /// <summary>A RangeRequest listing one namespace.</summary>
    [Benchmark]
    [AllocationBudget(160)]
    public RangeQuery RangeRequestToQuery() => ProtoMapping.ToQuery(_list);

    /// <summary>The kube-apiserver's update transaction with a 1 KiB value (shared, as a put's).</summary>
    [Benchmark]
    [AllocationBudget(1_100)]
    public TxnRequest TxnRequestToTxn() => ProtoMapping.ToTxn(_update);

    /// <summary>A RangeResponse of 500 key-values of 1 KiB (their bytes are wrapped, not copied).</summary>
    [Benchmark]
    [AllocationBudget(90_000)]
    public Rpc.RangeResponse RangeResultToResponse500() => ProtoMapping.ToProto(_listed, _headers.At(Workload.LastRevision));

    /// <summary>The TxnResponse of a successful update.</summary>
    [Benchmark]
    [AllocationBudget(480)]
    public Rpc.TxnResponse TxnResultToResponse() => ProtoMapping.ToProto(_updated, _headers.At(_updated.Revision));
}

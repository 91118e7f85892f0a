using System.Text;
using Google.Protobuf;
using KubeBrain.EtcdFrontend;
using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Mvcc;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.MicroBenchmarks;

/// <summary>
/// Kubernetes-shaped data the benchmarks share: pods under <c>/registry/pods/&lt;namespace&gt;/&lt;name&gt;</c>,
/// <see cref="PodsPerNamespace"/> to a namespace, with 1 KiB values, each created once and then updated
/// <see cref="Updates"/> times, one revision per write.
/// </summary>
internal static class Workload
{
    public const int Namespaces = 20;

    public const int PodsPerNamespace = 500;

    public const int Updates = 2;

    public const int ValueBytes = 1024;

    /// <summary>The revision the first write took.</summary>
    public const long FirstRevision = 2;

    public static int Pods => Namespaces * PodsPerNamespace;

    /// <summary>The revision of the last write.</summary>
    public static long LastRevision => FirstRevision + (Pods * (Updates + 1L)) - 1;

    /// <summary>A revision at which every pod exists and half of them show their first update.</summary>
    public static long MiddleRevision => FirstRevision + Pods + (Pods / 2L);

    public static byte[] Key(int ns, int pod) => Encoding.UTF8.GetBytes($"/registry/pods/ns-{ns:D2}/pod-{pod:D4}");

    /// <summary>The keys of one namespace: [<c>/registry/pods/ns-NN/</c>, <c>/registry/pods/ns-NN0</c>).</summary>
    public static KeySpan Namespace(int ns) =>
        new(Encoding.UTF8.GetBytes($"/registry/pods/ns-{ns:D2}/"), Encoding.UTF8.GetBytes($"/registry/pods/ns-{ns:D2}0"));

    public static byte[] Value(int seed)
    {
        var value = new byte[ValueBytes];
        new Random(seed).NextBytes(value);
        return value;
    }

    /// <summary>The committed key-value of pod <paramref name="pod"/> of <paramref name="ns"/> after <paramref name="update"/> updates.</summary>
    public static KeyValue Pod(int ns, int pod, int update)
    {
        var index = (ns * PodsPerNamespace) + pod;
        var created = FirstRevision + index;
        return new KeyValue(Key(ns, pod), created, created + ((long)update * Pods), update + 1, Value(index), 0);
    }

    /// <summary>A key range's index holding every version of every pod.</summary>
    public static KeyIndex Index()
    {
        var index = new KeyIndex();
        for (var update = 0; update <= Updates; update++)
        {
            for (var ns = 0; ns < Namespaces; ns++)
            {
                for (var pod = 0; pod < PodsPerNamespace; pod++)
                {
                    var kv = Pod(ns, pod, update);
                    index.GetOrAdd(kv.Key).Add(KeyVersion.FromCommitted(kv));
                }
            }
        }
        return index;
    }

    /// <summary>The response headers of a frontend with the default name and cluster id.</summary>
    public static ResponseHeaders Headers() =>
        new(Options.Create(new EtcdFrontendOptions()), Options.Create(new ClusterOptions { ClusterId = "kubebrain" }));

    /// <summary>
    /// The kube-apiserver's update of <paramref name="pod"/> (GuaranteedUpdate): if its mod revision is still
    /// <paramref name="modRevision"/>, put <paramref name="value"/>, else read the key.
    /// </summary>
    public static Rpc.TxnRequest GuaranteedUpdate(KeyValue pod, byte[] value, long modRevision)
    {
        var key = ByteString.CopyFrom(pod.Key);
        return new Rpc.TxnRequest
        {
            Compare = { new Rpc.Compare { Key = key, Target = Rpc.Compare.Types.CompareTarget.Mod, Result = Rpc.Compare.Types.CompareResult.Equal, ModRevision = modRevision } },
            Success = { new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = key, Value = ByteString.CopyFrom(value) } } },
            Failure = { new Rpc.RequestOp { RequestRange = new Rpc.RangeRequest { Key = key } } },
        };
    }
}

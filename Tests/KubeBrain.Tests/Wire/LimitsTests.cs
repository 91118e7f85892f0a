using Google.Protobuf;
using Grpc.Core;
using Xunit;
using static KubeBrain.Tests.Wire.WireHelpers;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Wire;

/// <summary>
/// etcd's default request limits (--max-request-bytes 1.5 MiB); run against KubeBrain and, as the oracle, against
/// etcd 3.4.
/// </summary>
public abstract class LimitsContract(WireFixture fixture)
{
    private Rpc.KV.KVClient Kv => fixture.Target.Kv;

    protected static ByteString Bytes(int size) => ByteString.CopyFrom(new byte[size]);

    [Fact]
    public async Task PutLargerThanMaxRequestBytes_IsRequestTooLarge_AndTheServerKeepsServing()
    {
        var p = NewPrefix("limits");
        var before = await CurrentRevisionAsync(Kv);
        var big = Bytes(1_677_722); // 1.6 MiB, above 1.5 MiB but within the gRPC receive limit

        await AssertRpcErrorAsync(StatusCode.InvalidArgument, TooLarge,
            () => Kv.PutAsync(new Rpc.PutRequest { Key = B(p + "big"), Value = big }).ResponseAsync);
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, TooLarge,
            () => Kv.TxnAsync(Txn([], [new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = B(p + "big"), Value = big } }])).ResponseAsync);

        Assert.Equal(before, await CurrentRevisionAsync(Kv));
        Assert.Empty((await Kv.RangeAsync(Get(p + "big"))).Kvs);
        var after = await Kv.PutAsync(Put(p + "small", "s"));
        Assert.Equal(before + 1, after.Header.Revision);
    }

    [Fact]
    public async Task PutJustBelowMaxRequestBytes_IsAccepted_AndReadBackWhole()
    {
        var p = NewPrefix("limits");
        var value = Bytes(1024 * 1024);

        await Kv.PutAsync(new Rpc.PutRequest { Key = B(p + "mib"), Value = value });

        Assert.Equal(value, Assert.Single((await Kv.RangeAsync(Get(p + "mib"))).Kvs).Value);
    }
}

public sealed class LimitsTests(KubeBrainFixture fixture) : LimitsContract(fixture), IClassFixture<KubeBrainFixture>
{
    [Fact]
    public async Task ConfiguredLimits_AreEnforced()
    {
        await using var kb = await WireTarget.StartKubeBrainAsync(o => o with { MaxTxnOps = 4, MaxRequestBytes = 4096 });
        var p = NewPrefix("limits");
        Rpc.RequestOp[] Puts(int n) => [.. Enumerable.Range(0, n).Select(i => OpPut($"{p}{i}", "v"))];

        await AssertRpcErrorAsync(StatusCode.InvalidArgument, TooManyOps, () => kb.Kv.TxnAsync(Txn([], Puts(5))).ResponseAsync);
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, TooManyOps,
            () => kb.Kv.TxnAsync(Txn([.. Enumerable.Range(0, 5).Select(i => Cmp($"{p}{i}", Rpc.Compare.Types.CompareTarget.Mod, Rpc.Compare.Types.CompareResult.Equal, 0))], [])).ResponseAsync);
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, TooLarge,
            () => kb.Kv.PutAsync(new Rpc.PutRequest { Key = B(p + "big"), Value = Bytes(5000) }).ResponseAsync);
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, TooLarge,
            () => kb.Kv.TxnAsync(Txn([], [new Rpc.RequestOp { RequestPut = new Rpc.PutRequest { Key = B(p + "big"), Value = Bytes(5000) } }])).ResponseAsync);

        var four = await kb.Kv.TxnAsync(Txn([], Puts(4)));
        var belowLimit = await kb.Kv.PutAsync(new Rpc.PutRequest { Key = B(p + "fits"), Value = Bytes(3000) });

        Assert.Equal(2, four.Header.Revision);
        Assert.Equal(3, belowLimit.Header.Revision);
        Assert.Equal(5, (await kb.Kv.RangeAsync(Prefix(p))).Count);
    }
}

public sealed class LimitsTestsOnEtcd(EtcdFixture fixture) : LimitsContract(fixture), IClassFixture<EtcdFixture>;

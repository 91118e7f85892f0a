using System.Net;
using System.Net.Http.Headers;
using Grpc.Core;
using Xunit;
using static KubeBrain.Tests.Wire.WireHelpers;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Wire;

/// <summary>Edge cases of etcd's semantics found in review; run against KubeBrain and etcd 3.4 as the oracle.</summary>
public abstract class EdgeCaseContract(WireFixture fixture)
{
    private Rpc.KV.KVClient Kv => fixture.Target.Kv;

    [Fact]
    public async Task ALimitOfMaxInt64_IsNoLimit()
    {
        var p = NewPrefix("edge");
        await Kv.PutAsync(Put(p + "a", "1"));
        await Kv.PutAsync(Put(p + "b", "2"));

        var all = await Kv.RangeAsync(new Rpc.RangeRequest { Key = B(p), RangeEnd = PrefixEnd(p), Limit = long.MaxValue });

        Assert.Equal([p + "a", p + "b"], Keys(all));
        Assert.False(all.More);
    }

    [Fact]
    public async Task AFromKeyDeleteAndAPutAfterIt_AreNotADuplicateKey()
    {
        var p = NewPrefix("edge");
        await Kv.PutAsync(Put(p + "a", "1"));
        await Kv.PutAsync(Put(p + "b", "1"));

        var txn = await Kv.TxnAsync(Txn([], [OpDelete(p + "a", "\0"), OpPut(p + "zz-" + Guid.NewGuid().ToString("N"), "v")]));

        Assert.True(txn.Succeeded);
        Assert.True(txn.Responses[0].ResponseDeleteRange.Deleted >= 2);
    }

    [Theory]
    [InlineData("etcdserverpb.Nope", "Get", "unknown service etcdserverpb.Nope")]
    [InlineData("etcdserverpb.KV", "Nope", "unknown method Nope for service etcdserverpb.KV")]
    public async Task AnUnknownServiceOrMethod_IsUnimplemented_NamingIt(string service, string method, string message)
    {
        var call = new Method<byte[], byte[]>(MethodType.Unary, service, method, RawBytes, RawBytes);

        var error = await Assert.ThrowsAsync<RpcException>(() => fixture.Target.Invoker.AsyncUnaryCall(call, null, new CallOptions(), []).ResponseAsync);

        Assert.Equal((StatusCode.Unimplemented, message), (error.StatusCode, error.Status.Detail));
    }

    [Fact]
    public async Task ACallWhosePathNamesNoMethod_IsRefusedAsMalformed()
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, fixture.Target.Endpoint + "/nomethod")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent([0, 0, 0, 0, 0]),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));

        using var response = await http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();

        var status = response.Headers.Concat(response.TrailingHeaders).ToDictionary(h => h.Key, h => string.Join(",", h.Value));
        Assert.Equal(("8", "malformed method name: \"/nomethod\""), (status["grpc-status"], Uri.UnescapeDataString(status["grpc-message"])));
    }

    private static readonly Marshaller<byte[]> RawBytes = Marshallers.Create(bytes => bytes, bytes => bytes);
}

public sealed class EdgeCaseTests(KubeBrainFixture fixture) : EdgeCaseContract(fixture), IClassFixture<KubeBrainFixture>
{
    [Fact]
    public async Task APutAndADeleteOfOneKeyInOneTxn_IsRefusedByName_AndNothingIsWritten()
    {
        await using var kb = await WireTarget.StartKubeBrainAsync();
        var p = NewPrefix("edge");
        await kb.Kv.PutAsync(Put(p + "k", "1"));
        var before = await CurrentRevisionAsync(kb.Kv);

        var error = await Assert.ThrowsAsync<RpcException>(() => kb.Kv.TxnAsync(Txn([],
        [
            OpTxn(Txn([], [OpPut(p + "k", "2")])),
            OpTxn(Txn([], [OpDelete(p + "k")])),
        ])).ResponseAsync);

        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
        Assert.Contains("writing one key twice in one txn", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(before, await CurrentRevisionAsync(kb.Kv));
        Assert.Equal("1", S(Assert.Single((await kb.Kv.RangeAsync(Get(p + "k"))).Kvs).Value));
    }
}

/// <summary>What KubeBrain does not implement is refused with Unimplemented naming it (I8), never ignored.</summary>
public sealed class UnsupportedFieldTests(KubeBrainFixture fixture) : IClassFixture<KubeBrainFixture>
{
    [Fact]
    public async Task ARangeWithARevisionInsideATxn_IsRefusedByName_AndNothingIsWritten()
    {
        var kv = fixture.Target.Kv;
        var p = NewPrefix("unsupported");
        var before = await CurrentRevisionAsync(kv);
        var historical = new Rpc.RequestOp { RequestRange = new Rpc.RangeRequest { Key = B(p + "k"), Revision = 1 } };

        var error = await Assert.ThrowsAsync<RpcException>(() => kv.TxnAsync(Txn([], [OpPut(p + "k", "v"), historical])).ResponseAsync);

        Assert.Equal((StatusCode.Unimplemented, "kubebrain: request_range.revision inside a txn is not supported"), (error.StatusCode, error.Status.Detail));
        Assert.Equal(before, await CurrentRevisionAsync(kv));
    }

    [Fact]
    public async Task RangeStream_IsUnimplemented()
    {
        using var call = fixture.Target.Kv.RangeStream(Get("/registry/pods/"));

        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext());

        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
        Assert.Contains("RangeStream", error.Status.Detail, StringComparison.Ordinal);
    }
}

public sealed class EtcdEdgeCaseTests(EtcdFixture fixture) : EdgeCaseContract(fixture), IClassFixture<EtcdFixture>;

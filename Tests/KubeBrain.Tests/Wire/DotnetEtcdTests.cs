using dotnet_etcd;
using Google.Protobuf;
using Grpc.Core;
using Xunit;
using Client = Etcdserverpb;

namespace KubeBrain.Tests.Wire;

/// <summary>
/// The core flows through the dotnet-etcd 10.0.0 client library (its own generated etcd types, its own channel
/// set up from the endpoint URL); run against KubeBrain and, as the oracle, against etcd 3.4.
/// </summary>
public abstract class DotnetEtcdContract(WireFixture fixture) : IDisposable
{
    private readonly EtcdClient _client = new(fixture.Target.Endpoint, interceptors: [new DeadlineInterceptor(WireTarget.CallDeadline)]);

    public void Dispose()
    {
        _client.Dispose();
        GC.SuppressFinalize(this);
    }

    private static string NewPrefix() => WireHelpers.NewPrefix("dotnet-etcd");

    private static ByteString B(string text) => ByteString.CopyFromUtf8(text);

    private static async Task AssertRpcErrorAsync(StatusCode code, string message, Func<Task> call)
    {
        var error = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Equal((code, message), (error.StatusCode, error.Status.Detail));
    }

    [Fact]
    public async Task PutThenGet_RoundTripsTheValueAndRevisions()
    {
        var k = NewPrefix() + "k";

        var first = await _client.PutAsync(k, "v1");
        var second = await _client.PutAsync(k, "v2");
        var get = await _client.GetAsync(k);

        Assert.Equal(first.Header.Revision + 1, second.Header.Revision);
        var kv = Assert.Single(get.Kvs);
        Assert.Equal((k, "v2", first.Header.Revision, second.Header.Revision, 2L),
            (kv.Key.ToStringUtf8(), kv.Value.ToStringUtf8(), kv.CreateRevision, kv.ModRevision, kv.Version));
        Assert.Equal("v2", await _client.GetValAsync(k));
        Assert.Equal(second.Header.Revision, get.Header.Revision);
    }

    [Fact]
    public async Task GetRange_ReadsThePrefix()
    {
        var p = NewPrefix();
        await _client.PutAsync(p + "b", "2");
        await _client.PutAsync(p + "a", "1");
        await _client.PutAsync(p[..^1] + "0", "outside");

        var range = await _client.GetRangeAsync(p);
        var values = await _client.GetRangeValAsync(p);

        Assert.Equal([p + "a", p + "b"], range.Kvs.Select(kv => kv.Key.ToStringUtf8()));
        Assert.Equal(2, range.Count);
        Assert.Equal(new Dictionary<string, string> { [p + "a"] = "1", [p + "b"] = "2" }, values);
    }

    [Fact]
    public async Task Delete_RemovesOneKey()
    {
        var p = NewPrefix();
        await _client.PutAsync(p + "a", "1");
        var written = await _client.PutAsync(p + "ab", "2");

        var deleted = await _client.DeleteAsync(p + "a");

        Assert.Equal(1, deleted.Deleted);
        Assert.Equal(written.Header.Revision + 1, deleted.Header.Revision);
        Assert.Equal([p + "ab"], (await _client.GetRangeAsync(p)).Kvs.Select(kv => kv.Key.ToStringUtf8()));
    }

    [Fact]
    public async Task DeleteRange_RemovesThePrefix_InOneRevision()
    {
        var p = NewPrefix();
        await _client.PutAsync(p + "a", "1");
        await _client.PutAsync(p + "b/c", "2");
        var written = await _client.PutAsync(p[..^1] + "0", "outside");

        var deleted = await _client.DeleteRangeAsync(p);

        Assert.Equal(2, deleted.Deleted);
        Assert.Equal(written.Header.Revision + 1, deleted.Header.Revision);
        Assert.Empty((await _client.GetRangeAsync(p)).Kvs);
        Assert.Single((await _client.GetAsync(p[..^1] + "0")).Kvs);
    }

    [Fact]
    public async Task Transaction_CreateIfAbsent_ThenConflict()
    {
        var k = NewPrefix() + "k";
        Client.TxnRequest CreateIfAbsent(string value)
        {
            var txn = new Client.TxnRequest();
            txn.Compare.Add(new Client.Compare
            {
                Key = B(k),
                Target = Client.Compare.Types.CompareTarget.Mod,
                Result = Client.Compare.Types.CompareResult.Equal,
                ModRevision = 0,
            });
            txn.Success.Add(new Client.RequestOp { RequestPut = new Client.PutRequest { Key = B(k), Value = B(value) } });
            txn.Failure.Add(new Client.RequestOp { RequestRange = new Client.RangeRequest { Key = B(k) } });
            return txn;
        }

        var created = await _client.TransactionAsync(CreateIfAbsent("first"));
        var conflict = await _client.TransactionAsync(CreateIfAbsent("second"));

        Assert.True(created.Succeeded);
        Assert.Equal(Client.ResponseOp.ResponseOneofCase.ResponsePut, Assert.Single(created.Responses).ResponseCase);
        Assert.False(conflict.Succeeded);
        Assert.Equal(created.Header.Revision, conflict.Header.Revision);
        var existing = Assert.Single(Assert.Single(conflict.Responses).ResponseRange.Kvs);
        Assert.Equal(("first", created.Header.Revision), (existing.Value.ToStringUtf8(), existing.ModRevision));
    }

    [Fact]
    public async Task Errors_SurfaceWithEtcdsCodesAndTexts()
    {
        var p = NewPrefix();
        var current = (await _client.PutAsync(p + "k", "v")).Header.Revision;

        await AssertRpcErrorAsync(StatusCode.InvalidArgument, WireHelpers.KeyNotFound,
            () => _client.PutAsync(new Client.PutRequest { Key = B(p + "missing"), IgnoreLease = true }));
        await AssertRpcErrorAsync(StatusCode.NotFound, WireHelpers.LeaseNotFound,
            () => _client.PutAsync(new Client.PutRequest { Key = B(p + "k"), Value = B("v"), Lease = 0x4242 }));
        await AssertRpcErrorAsync(StatusCode.OutOfRange, WireHelpers.FutureRevision,
            () => _client.GetAsync(new Client.RangeRequest { Key = B(p + "k"), Revision = current + 1000 }));
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, WireHelpers.EmptyKey,
            () => _client.GetAsync(new Client.RangeRequest()));
        var duplicate = new Client.TxnRequest();
        duplicate.Success.Add(new Client.RequestOp { RequestPut = new Client.PutRequest { Key = B(p + "k"), Value = B("1") } });
        duplicate.Success.Add(new Client.RequestOp { RequestPut = new Client.PutRequest { Key = B(p + "k"), Value = B("2") } });
        await AssertRpcErrorAsync(StatusCode.InvalidArgument, WireHelpers.DuplicateKey, () => _client.TransactionAsync(duplicate));
    }
}

public sealed class DotnetEtcdTests(KubeBrainFixture fixture) : DotnetEtcdContract(fixture), IClassFixture<KubeBrainFixture>;

public sealed class DotnetEtcdTestsOnEtcd(EtcdFixture fixture) : DotnetEtcdContract(fixture), IClassFixture<EtcdFixture>;

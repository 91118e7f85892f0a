using Google.Protobuf;
using KubeBrain.Tests.Infrastructure;
using Xunit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Robustness;

/// <summary>
/// Each traffic profile, run briefly by a few clients against one in-process KubeBrain without faults, issues
/// every kind of request it claims to, with answers, and none of them ends with an unknown outcome.
/// </summary>
public sealed class TrafficProfilesTests
{
    private const int Clients = 4;
    private static readonly TimeSpan RunFor = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Kubernetes_CreatesUpdatesDeletesListsInPagesAndWritesEventsWithLeases()
    {
        var history = await RunAsync(TrafficProfiles.ByName(KubernetesTraffic.ProfileName));

        AssertSome<Rpc.TxnRequest, Rpc.TxnResponse>(history, "create", (q, r) => IsGuarded(q, Rpc.RequestOp.RequestOneofCase.RequestPut, m => m == 0) && q.Success[0].RequestPut.Lease == 0 && r.Succeeded);
        AssertSome<Rpc.TxnRequest, Rpc.TxnResponse>(history, "create of an existing pod", (q, r) => IsGuarded(q, Rpc.RequestOp.RequestOneofCase.RequestPut, m => m == 0) && !r.Succeeded && r.Responses[0].ResponseRange.Kvs.Count == 1);
        AssertSome<Rpc.TxnRequest, Rpc.TxnResponse>(history, "GuaranteedUpdate", (q, r) => IsGuarded(q, Rpc.RequestOp.RequestOneofCase.RequestPut, m => m > 0) && r.Succeeded);
        AssertSome<Rpc.TxnRequest, Rpc.TxnResponse>(history, "GuaranteedUpdate conflict", (q, r) => IsGuarded(q, Rpc.RequestOp.RequestOneofCase.RequestPut, m => m > 0) && !r.Succeeded);
        AssertSome<Rpc.TxnRequest, Rpc.TxnResponse>(history, "conditional delete", (q, r) => IsGuarded(q, Rpc.RequestOp.RequestOneofCase.RequestDeleteRange, m => m > 0) && r.Succeeded);
        AssertSome<Rpc.TxnRequest, Rpc.TxnResponse>(history, "event with a lease", (q, r) => IsGuarded(q, Rpc.RequestOp.RequestOneofCase.RequestPut, m => m == 0) && q.Success[0].RequestPut.Lease != 0 && r.Succeeded);
        AssertSome<Rpc.RangeRequest, Rpc.RangeResponse>(history, "consistent GET", (q, _) => q.RangeEnd.IsEmpty && q.Revision == 0);
        AssertSome<Rpc.LeaseGrantRequest, Rpc.LeaseGrantResponse>(history, "lease grant", (q, r) => q.TTL >= 5 && r.ID != 0);
        AssertSome<Rpc.LeaseRevokeRequest, Rpc.LeaseRevokeResponse>(history, "lease revoke", (_, _) => true);
        var nextPages = history.Where(o => o.Outcome == Outcome.Ok && o.Request is Rpc.RangeRequest { Revision: > 0 }).Select(o => (o.Client, Request: (Rpc.RangeRequest)o.Request)).ToList();
        AssertSome<Rpc.RangeRequest, Rpc.RangeResponse>(history, "LIST page with more, followed by the next page", (q, r) =>
            q is { Limit: KubernetesTraffic.PageSize, Revision: 0 } && r.More
            && nextPages.Exists(n => n.Request.Revision == r.Header.Revision && n.Request.Key == ByteString.CopyFrom([.. r.Kvs[^1].Key, 0])));
        AssertUniqueValues(history);
    }

    [Fact]
    public async Task Random_RangesWritesTransactsLeasesAndCompacts()
    {
        var history = await RunAsync(TrafficProfiles.ByName(RandomTraffic.ProfileName));

        AssertSome<Rpc.TxnRequest, Rpc.TxnResponse>(history, "txn that succeeded", (q, r) => q.Compare.Count >= 2 && r.Succeeded);
        AssertSome<Rpc.TxnRequest, Rpc.TxnResponse>(history, "txn that failed its compares", (q, r) => q.Compare.Count >= 2 && !r.Succeeded);
        AssertSome<Rpc.CompactionRequest, Rpc.CompactionResponse>(history, "compaction", (_, _) => true);
        AssertSome<Rpc.RangeRequest, Rpc.RangeResponse>(history, "range at a past revision", (q, r) => q.Revision > 0 && q.Revision < r.Header.Revision);
        AssertSome<Rpc.RangeRequest, Rpc.RangeResponse>(history, "limited range of the prefix", (q, _) => !q.RangeEnd.IsEmpty && q.Limit > 0);
        AssertSome<Rpc.PutRequest, Rpc.PutResponse>(history, "put with prev_kv", (q, r) => q.PrevKv && r.PrevKv is not null);
        AssertSome<Rpc.PutRequest, Rpc.PutResponse>(history, "put with a lease", (q, _) => q.Lease != 0);
        AssertSome<Rpc.DeleteRangeRequest, Rpc.DeleteRangeResponse>(history, "delete of one key", (q, r) => q.RangeEnd.IsEmpty && r.Deleted == 1);
        AssertSome<Rpc.DeleteRangeRequest, Rpc.DeleteRangeResponse>(history, "delete of an interval", (q, r) => !q.RangeEnd.IsEmpty && r.Deleted > 0);
        AssertSome<Rpc.LeaseRevokeRequest, Rpc.LeaseRevokeResponse>(history, "lease revoke", (_, _) => true);
        AssertUniqueValues(history);
    }

    private static async Task<IReadOnlyList<Operation>> RunAsync(ITrafficProfile profile)
    {
        await using var host = await KubeBrainInstance.StartAsync();
        var recorder = new HistoryRecorder();
        Endpoint[] endpoints = [new("fe", host.Channel)];
        using var stop = new CancellationTokenSource(RunFor);
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(id =>
            Task.Run(() => profile.RunAsync(new TrafficClient(id, new Random(id), recorder, endpoints, $"/{profile.Name}"), stop.Token))));
        var history = recorder.Operations;
        Assert.Empty(history.Where(o => o.Outcome == Outcome.Unknown).Select(o => $"{o.Request.Descriptor.Name}: {o.Error}"));
        return history;
    }

    /// <summary>A transaction guarded by one mod-revision compare whose success branch is one operation of <paramref name="kind"/>.</summary>
    private static bool IsGuarded(Rpc.TxnRequest request, Rpc.RequestOp.RequestOneofCase kind, Func<long, bool> modRevision) =>
        request.Compare is [{ Target: Rpc.Compare.Types.CompareTarget.Mod, Result: Rpc.Compare.Types.CompareResult.Equal } compare]
        && modRevision(compare.ModRevision) && request.Success is [var op] && op.RequestCase == kind;

    private static void AssertSome<TRequest, TResponse>(IReadOnlyList<Operation> history, string what, Func<TRequest, TResponse, bool> match)
        where TRequest : IMessage
        where TResponse : IMessage =>
        Assert.True(
            history.Any(o => o.Outcome == Outcome.Ok && o.Request is TRequest q && o.Response is TResponse r && match(q, r)),
            $"No {what} was answered among {history.Count} requests.");

    /// <summary>No two puts, in or out of transactions, wrote the same value.</summary>
    private static void AssertUniqueValues(IReadOnlyList<Operation> history)
    {
        var values = history.SelectMany(o => Puts(o.Request)).Select(p => p.Value).ToList();
        Assert.NotEmpty(values);
        Assert.Equal(values.Count, values.Distinct().Count());
    }

    private static IEnumerable<Rpc.PutRequest> Puts(IMessage request) => request switch
    {
        Rpc.PutRequest put => [put],
        Rpc.TxnRequest txn => txn.Success.Concat(txn.Failure).SelectMany(op => op.RequestCase switch
        {
            Rpc.RequestOp.RequestOneofCase.RequestPut => [op.RequestPut],
            Rpc.RequestOp.RequestOneofCase.RequestTxn => Puts(op.RequestTxn),
            _ => [],
        }),
        _ => [],
    };
}

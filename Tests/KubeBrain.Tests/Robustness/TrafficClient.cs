using Grpc.Net.Client;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Robustness;

/// <summary>An etcd endpoint the campaign's clients talk to (a frontend), by name.</summary>
public sealed record Endpoint(string Name, GrpcChannel Channel)
{
    public Rpc.KV.KVClient Kv { get; } = new(Channel);

    public Rpc.Lease.LeaseClient Lease { get; } = new(Channel);
}

/// <summary>
/// One simulated client of a traffic profile: its own random source, the recorder, and the endpoints it may use.
/// Every KV and lease request goes through the recorder; after a request whose outcome is not an answer the
/// client moves to another endpoint, as etcd clients fail over. Keys stay under <see cref="Prefix"/>.
/// </summary>
public sealed class TrafficClient(int id, Random random, HistoryRecorder recorder, IReadOnlyList<Endpoint> endpoints, string prefix)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(5);

    private int _endpoint = id % endpoints.Count;

    public int Id { get; } = id;

    public Random Random { get; } = random;

    public string Prefix { get; } = prefix;

    private Endpoint Current => endpoints[_endpoint];

    public Task<Rpc.RangeResponse?> RangeAsync(Rpc.RangeRequest request) =>
        CallAsync(request, (e, r) => e.Kv.RangeAsync(r, deadline: DateTime.UtcNow + Deadline).ResponseAsync);

    public Task<Rpc.PutResponse?> PutAsync(Rpc.PutRequest request) =>
        CallAsync(request, (e, r) => e.Kv.PutAsync(r, deadline: DateTime.UtcNow + Deadline).ResponseAsync);

    public Task<Rpc.DeleteRangeResponse?> DeleteAsync(Rpc.DeleteRangeRequest request) =>
        CallAsync(request, (e, r) => e.Kv.DeleteRangeAsync(r, deadline: DateTime.UtcNow + Deadline).ResponseAsync);

    public Task<Rpc.TxnResponse?> TxnAsync(Rpc.TxnRequest request) =>
        CallAsync(request, (e, r) => e.Kv.TxnAsync(r, deadline: DateTime.UtcNow + Deadline).ResponseAsync);

    public Task<Rpc.CompactionResponse?> CompactAsync(Rpc.CompactionRequest request) =>
        CallAsync(request, (e, r) => e.Kv.CompactAsync(r, deadline: DateTime.UtcNow + Deadline).ResponseAsync);

    public Task<Rpc.LeaseGrantResponse?> LeaseGrantAsync(Rpc.LeaseGrantRequest request) =>
        CallAsync(request, (e, r) => e.Lease.LeaseGrantAsync(r, deadline: DateTime.UtcNow + Deadline).ResponseAsync);

    public Task<Rpc.LeaseRevokeResponse?> LeaseRevokeAsync(Rpc.LeaseRevokeRequest request) =>
        CallAsync(request, (e, r) => e.Lease.LeaseRevokeAsync(r, deadline: DateTime.UtcNow + Deadline).ResponseAsync);

    private async Task<TResponse?> CallAsync<TRequest, TResponse>(TRequest request, Func<Endpoint, TRequest, Task<TResponse>> send)
        where TRequest : Google.Protobuf.IMessage
        where TResponse : class, Google.Protobuf.IMessage
    {
        var endpoint = Current;
        var (response, outcome) = await recorder.CallAsync(Id, endpoint.Name, request, r => send(endpoint, r));
        if (outcome == Outcome.Unknown)
        {
            _endpoint = (_endpoint + 1) % endpoints.Count;
        }
        return response;
    }
}

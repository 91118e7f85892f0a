using Grpc.Core;
using KubeBrain.EtcdFrontend.Mapping;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Lease;

internal sealed partial class LeaseService
{
    /// <summary>
    /// Answers each request in order with the lease's refreshed TTL (0 for a lease that is not live) and ends
    /// cleanly when the client closes its side or goes away.
    /// </summary>
    public override async Task LeaseKeepAlive(
        IAsyncStreamReader<Rpc.LeaseKeepAliveRequest> requestStream,
        IServerStreamWriter<Rpc.LeaseKeepAliveResponse> responseStream,
        ServerCallContext context)
    {
        try
        {
            await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
            {
                var result = await calls.KeepAliveAsync(request.ID);
                await responseStream.WriteAsync(ProtoMapping.ToProto(request.ID, result, headers.At(result.Revision)), context.CancellationToken);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && context.CancellationToken.IsCancellationRequested)
        {
            // The client went away (cancelled or dropped the connection): there is nobody left to answer.
        }
    }
}

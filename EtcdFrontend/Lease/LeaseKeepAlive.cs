using Grpc.Core;
using KubeBrain.EtcdFrontend.Errors;
using KubeBrain.EtcdFrontend.Mapping;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Lease;

internal sealed partial class LeaseService
{
    /// <summary>
    /// Answers each request in order with the lease's refreshed TTL (0 for a lease that is not live) and ends
    /// cleanly when the client closes its side or goes away, or with Unavailable when the process begins to stop.
    /// </summary>
    public override async Task LeaseKeepAlive(
        IAsyncStreamReader<Rpc.LeaseKeepAliveRequest> requestStream,
        IServerStreamWriter<Rpc.LeaseKeepAliveResponse> responseStream,
        ServerCallContext context)
    {
        using var call = shutdown.Link(context);
        var requests = new ClientStream<Rpc.LeaseKeepAliveRequest>(context, requestStream, Rpc.LeaseKeepAliveRequest.Parser, options.Value.MaxMessageBytes);
        try
        {
            while (await requests.NextAsync(call.Token) is { } request)
            {
                var result = await calls.KeepAliveAsync(request.ID);
                // Under the call's own token: gRPC resets the stream of a write whose token the stop cancelled.
                await responseStream.WriteAsync(ProtoMapping.ToProto(request.ID, result, headers.At(result.Revision)), context.CancellationToken);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && call.IsCancellationRequested)
        {
            // The client went away (cancelled or dropped the connection), or the process is stopping.
        }
        if (shutdown.IsStopping)
        {
            throw EtcdErrors.Stopped;
        }
    }
}

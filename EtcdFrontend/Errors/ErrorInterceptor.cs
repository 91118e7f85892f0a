using Grpc.Core;
using Grpc.Core.Interceptors;
using KubeBrain.Grains.Interfaces;
using Microsoft.Extensions.Logging;
using Orleans.Runtime.Messaging;

namespace KubeBrain.EtcdFrontend.Errors;

/// <summary>
/// Turns transient failures below the frontend (the store refused a write, a grain call timed out, a silo went
/// away, no gateway of the cluster can be reached) into etcd's <c>Unavailable</c>, which clients retry for reads;
/// anything else stays an internal error.
/// </summary>
internal sealed partial class ErrorInterceptor(ILogger<ErrorInterceptor> logger) : Interceptor
{
    private readonly FailureStreak _unavailable = new();

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception e) when (IsTransient(e))
        {
            Unavailable(e, context.Method);
            throw EtcdErrors.Timeout;
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(requestStream, responseStream, context);
        }
        catch (Exception e) when (IsTransient(e))
        {
            Unavailable(e, context.Method);
            throw EtcdErrors.Timeout;
        }
    }

    private void Unavailable(Exception e, string method)
    {
        if (_unavailable.Failed(out var unlogged))
        {
            LogTransient(e, method, unlogged);
        }
    }

    private static bool IsTransient(Exception e) =>
        e is StoreUnavailableException
            or TimeoutException
            or OrleansMessageRejectionException
            or ConnectionFailedException
            or GatewayTooBusyException;

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "{Method} answered Unavailable: the request could not be carried out for now ({Unlogged} more Unavailable answers since the last such line); clients retry. If this persists, check that this frontend reaches the silos and that the store is reachable: the silos' logs name the failing part")]
    private partial void LogTransient(Exception exception, string method, int unlogged);
}

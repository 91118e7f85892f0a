using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;
using KubeBrain.EtcdFrontend.Errors;
using KubeBrain.EtcdFrontend.Telemetry;
using KubeBrain.Grains.Interfaces;
using Microsoft.Extensions.Logging;
using Orleans.Runtime.Messaging;

namespace KubeBrain.EtcdFrontend.Hosting;

/// <summary>
/// Every RPC passes here once, as one layer of gRPC's pipeline (each layer costs every request an allocation of its
/// own): transient failures below the frontend (the store refused a write, a grain call timed out, a silo went away,
/// no gateway of the cluster can be reached) become etcd's <c>Unavailable</c> in calls of every kind, which clients
/// retry for reads, while any other exception ends the call as gRPC ends it, <c>Unknown</c>; and the call is counted
/// with its latency by service, method, type and the final status the client gets, as go-grpc-prometheus does for
/// etcd.
/// </summary>
internal sealed partial class CallInterceptor(FrontendMetrics metrics, ILogger<CallInterceptor> logger) : Interceptor
{
    private readonly FailureStreak _unavailable = new();

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation) =>
        RunAsync(context, "unary", (request, continuation), static (s, c) => s.continuation(s.request, c), static c => c.Status.StatusCode);

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        RunAsync(context, "client_stream", (requestStream, continuation), static (s, c) => s.continuation(s.requestStream, c), EndOfStream);

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        RunAsync(
            context,
            "server_stream",
            (request, responseStream, continuation),
            static async (s, c) =>
            {
                await s.continuation(s.request, s.responseStream, c);
                return true;
            },
            EndOfStream);

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        RunAsync(
            context,
            "bidi_stream",
            (requestStream, responseStream, continuation),
            static async (s, c) =>
            {
                await s.continuation(s.requestStream, s.responseStream, c);
                return true;
            },
            EndOfStream);

    /// <summary>
    /// Runs one call of gRPC type <paramref name="type"/> (<paramref name="call"/> with <paramref name="state"/>, so
    /// that no closure is made per call) and counts it with the status it ended with.
    /// </summary>
    private async Task<T> RunAsync<TState, T>(
        ServerCallContext context, string type, TState state, Func<TState, ServerCallContext, Task<T>> call, Func<ServerCallContext, StatusCode> ended)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var result = await call(state, context);
            metrics.Handled(context.Method, type, ended(context), started);
            return result;
        }
        catch (Exception e) when (IsTransient(e))
        {
            if (_unavailable.Failed(out var unlogged))
            {
                LogTransient(e, context.Method, unlogged);
            }
            var timeout = EtcdErrors.Timeout;
            metrics.Handled(context.Method, type, timeout.StatusCode, started);
            throw timeout;
        }
        catch (Exception e)
        {
            metrics.Handled(context.Method, type, CodeOf(e, context), started);
            throw;
        }
    }

    private static bool IsTransient(Exception e) =>
        e is StoreUnavailableException
            or TimeoutException
            or OrleansMessageRejectionException
            or ConnectionFailedException
            or GatewayTooBusyException;

    /// <summary>The status a stream that ended without an exception ends with: Canceled when the client went away first.</summary>
    private static StatusCode EndOfStream(ServerCallContext context) =>
        context.Status.StatusCode == StatusCode.OK && context.CancellationToken.IsCancellationRequested ? StatusCode.Cancelled : context.Status.StatusCode;

    /// <summary>The status a failed call ends with: its own, Canceled when the client went away, else Unknown (as gRPC answers an unhandled exception).</summary>
    private static StatusCode CodeOf(Exception e, ServerCallContext context) => e switch
    {
        RpcException rpc => rpc.StatusCode,
        _ when context.CancellationToken.IsCancellationRequested => StatusCode.Cancelled,
        OperationCanceledException => StatusCode.Cancelled,
        _ => StatusCode.Unknown,
    };

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "{Method} answered Unavailable: the request could not be carried out for now ({Unlogged} more Unavailable answers since the last such line); clients retry. If this persists, check that this frontend reaches the silos and that the store is reachable: the silos' logs name the failing part")]
    private partial void LogTransient(Exception exception, string method, int unlogged);
}

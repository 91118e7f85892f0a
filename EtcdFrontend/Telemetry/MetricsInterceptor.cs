using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace KubeBrain.EtcdFrontend.Telemetry;

/// <summary>
/// Counts every RPC and its latency by service, method, type and final status code, as go-grpc-prometheus does for
/// etcd. It runs outside the error translation, so it sees the status the client gets.
/// </summary>
internal sealed class MetricsInterceptor(FrontendMetrics metrics) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var response = await continuation(request, context);
            metrics.Handled(context.Method, "unary", context.Status.StatusCode, started);
            return response;
        }
        catch (Exception e)
        {
            metrics.Handled(context.Method, "unary", CodeOf(e, context), started);
            throw;
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var response = await continuation(requestStream, context);
            metrics.Handled(context.Method, "client_stream", EndOfStream(context), started);
            return response;
        }
        catch (Exception e)
        {
            metrics.Handled(context.Method, "client_stream", CodeOf(e, context), started);
            throw;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await continuation(request, responseStream, context);
            metrics.Handled(context.Method, "server_stream", EndOfStream(context), started);
        }
        catch (Exception e)
        {
            metrics.Handled(context.Method, "server_stream", CodeOf(e, context), started);
            throw;
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await continuation(requestStream, responseStream, context);
            metrics.Handled(context.Method, "bidi_stream", EndOfStream(context), started);
        }
        catch (Exception e)
        {
            metrics.Handled(context.Method, "bidi_stream", CodeOf(e, context), started);
            throw;
        }
    }

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
}

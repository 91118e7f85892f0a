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
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation) =>
        MeasureAsync(context, "unary", () => continuation(request, context), ended: c => c.Status.StatusCode);

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        MeasureAsync(context, "client_stream", () => continuation(requestStream, context), EndOfStream);

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        MeasureAsync(context, "server_stream", async () => { await continuation(request, responseStream, context); return true; }, EndOfStream);

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        MeasureAsync(context, "bidi_stream", async () => { await continuation(requestStream, responseStream, context); return true; }, EndOfStream);

    /// <summary>Runs one call of gRPC type <paramref name="type"/> and counts it with the status it ended with.</summary>
    private async Task<T> MeasureAsync<T>(ServerCallContext context, string type, Func<Task<T>> call, Func<ServerCallContext, StatusCode> ended)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var result = await call();
            metrics.Handled(context.Method, type, ended(context), started);
            return result;
        }
        catch (Exception e)
        {
            metrics.Handled(context.Method, type, CodeOf(e, context), started);
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

using Grpc.Core;

namespace KubeBrain.EtcdFrontend.Errors;

/// <summary>Reading a client's request stream without turning its departure into exceptions on every layer.</summary>
internal static class ClientStreams
{
    /// <summary>
    /// The client's next request, or null once it closed its side, cancelled the call or dropped the connection.
    /// A client that opens a stream per request (etcd's <c>KeepAliveOnce</c>) resets it after each answer; read
    /// through <c>ReadAllAsync</c>, each reset is rethrown at every await up to the handler, which cost more than
    /// the request. Any other failure is rethrown.
    /// </summary>
    public static async Task<T?> NextAsync<T>(IAsyncStreamReader<T> requests, CancellationToken cancellationToken)
        where T : class
    {
        var next = requests.MoveNext(cancellationToken);
        await ((Task)next).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (next.IsCompletedSuccessfully)
        {
            return next.Result ? requests.Current : null;
        }
        if (next.IsCanceled || next.Exception?.InnerException is OperationCanceledException or IOException)
        {
            return null;
        }
        return await next ? requests.Current : null;
    }
}

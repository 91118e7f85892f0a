using Grpc.Core;
using Microsoft.Extensions.Hosting;

namespace KubeBrain.EtcdFrontend.Errors;

/// <summary>
/// Ends long-lived streams (watches, lease keep-alives) as soon as the process begins to stop: a stream runs under
/// the token of <see cref="Link"/> and, once it has wound down with <see cref="IsStopping"/> set, answers etcd's
/// <c>Unavailable</c> "server stopped", so that clients move to another endpoint and the stop does not wait for them.
/// </summary>
internal sealed class StreamShutdown(IHostApplicationLifetime lifetime)
{
    /// <summary>A token that ends with the call or when the process begins to stop.</summary>
    public CancellationTokenSource Link(ServerCallContext context) =>
        CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);

    public bool IsStopping => lifetime.ApplicationStopping.IsCancellationRequested;
}

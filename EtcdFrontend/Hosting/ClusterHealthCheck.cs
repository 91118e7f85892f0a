using KubeBrain.EtcdFrontend.Batching;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace KubeBrain.EtcdFrontend.Hosting;

/// <summary>
/// Healthy when the cluster answers a read barrier within <see cref="Timeout"/>: the frontend can then serve every
/// request, linearizable reads included. The gRPC health service and the metrics port's <c>/health</c> report it,
/// so a load balancer's readiness follows the cluster, not just the open port.
/// </summary>
internal sealed class ClusterHealthCheck(SequencerCalls calls) : IHealthCheck
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await calls.BarrierAsync().WaitAsync(Timeout, cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"the cluster does not answer a read barrier: {e.Message}");
        }
    }
}

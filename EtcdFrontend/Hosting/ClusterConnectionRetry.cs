using Microsoft.Extensions.Logging;

namespace KubeBrain.EtcdFrontend.Hosting;

/// <summary>
/// Keeps the frontend's first connection to the cluster trying, once a second, until a silo is up or the process is
/// stopped; afterwards the Orleans client reconnects by itself, refreshing its gateway list.
/// </summary>
internal sealed partial class ClusterConnectionRetry(ILogger<ClusterConnectionRetry> logger) : IClientConnectionRetryFilter
{
    private static readonly TimeSpan Delay = TimeSpan.FromSeconds(1);

    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        LogNotConnected(exception.Message);
        await Task.Delay(Delay, cancellationToken);
        return true;
    }

    [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "No silo of the cluster is reachable yet ({Reason}); trying again")]
    private partial void LogNotConnected(string reason);
}

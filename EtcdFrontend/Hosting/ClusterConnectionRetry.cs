using KubeBrain.Grains.Interfaces;
using Microsoft.Extensions.Logging;

namespace KubeBrain.EtcdFrontend.Hosting;

/// <summary>
/// Keeps the frontend's first connection to the cluster trying, once a second, until a silo is up or the process is
/// stopped; afterwards the Orleans client reconnects by itself, refreshing its gateway list.
/// </summary>
internal sealed partial class ClusterConnectionRetry(ILogger<ClusterConnectionRetry> logger) : IClientConnectionRetryFilter
{
    private static readonly TimeSpan Delay = TimeSpan.FromSeconds(1);

    private readonly FailureStreak _attempts = new();

    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        if (_attempts.Failed(out var unlogged))
        {
            LogNotConnected(exception.Message, unlogged);
        }
        await Task.Delay(Delay, cancellationToken);
        return true;
    }

    [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "No silo of the cluster is reachable yet ({Reason}); trying again every second ({Unlogged} more attempts since the last such line). If no silo comes, check that silos are running with the same --cluster-id and --service-id and the same database, and that their --advertise-address and gateway port are reachable from here")]
    private partial void LogNotConnected(string reason, int unlogged);
}

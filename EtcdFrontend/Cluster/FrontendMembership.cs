using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Interfaces.Model;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KubeBrain.EtcdFrontend.Cluster;

/// <summary>
/// This frontend's entry in the frontend registry, which MemberList answers from: registered at start and again
/// every <see cref="RefreshInterval"/>, each time for <see cref="Expiry"/>, so a frontend that died unannounced
/// drops out of the list within <see cref="Expiry"/> of its last refresh; removed at once on a graceful stop.
/// </summary>
internal sealed partial class FrontendMembership(
    IGrainFactory grains, ResponseHeaders headers, IOptions<EtcdFrontendOptions> options, ILogger<FrontendMembership> logger) : IHostedService
{
    /// <summary>How often the registration is refreshed.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(5);

    /// <summary>How long one registration lasts: three refreshes may fail before the frontend is dropped.</summary>
    public static readonly TimeSpan Expiry = 3 * RefreshInterval;

    private readonly CancellationTokenSource _stop = new();
    private Task? _refreshing;

    /// <summary>This frontend as a member: its name, the member id of its response headers, its client URLs.</summary>
    public FrontendMember Self { get; } = new(options.Value.Name, headers.MemberId, [.. options.Value.AdvertiseClientUrls]);

    private IFrontendRegistryGrain Registry => grains.GetGrain<IFrontendRegistryGrain>(0);

    /// <summary>Every registered frontend by member id, with this one as it is now whether or not the registry has it yet.</summary>
    public async Task<IReadOnlyList<FrontendMember>> ListAsync()
    {
        var registered = await Registry.MembersAsync();
        return [.. registered.Where(m => m.Id != Self.Id).Append(Self).OrderBy(m => m.Id)];
    }

    /// <summary>Registers before the frontend serves (a failure is logged and retried by the refreshes).</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await RegisterAsync();
        _refreshing = RefreshLoopAsync(_stop.Token);
    }

    /// <summary>Stops refreshing and unregisters, before the Orleans client or silo stops.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync();
        if (_refreshing is not null)
        {
            await _refreshing;
        }
        try
        {
            await Registry.UnregisterAsync(Self.Id).WaitAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogUnregisterFailed(e, Self.Name);
        }
    }

    private async Task RefreshLoopAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(RefreshInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                await RegisterAsync();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private async Task RegisterAsync()
    {
        try
        {
            await Registry.RegisterAsync(Self, Expiry);
        }
        catch (Exception e)
        {
            LogRegisterFailed(e, Self.Name);
        }
    }

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "Frontend {Name} could not refresh its registration; MemberList may omit it until a refresh succeeds. If this repeats, check that this frontend reaches the silos")]
    private partial void LogRegisterFailed(Exception exception, string name);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Warning, Message = "Frontend {Name} could not unregister; MemberList lists it until its registration expires")]
    private partial void LogUnregisterFailed(Exception exception, string name);
}

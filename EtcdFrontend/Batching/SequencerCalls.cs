using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.EtcdFrontend.Batching;

/// <summary>
/// The frontend's frequent sequencer calls, batched: concurrent read barriers share the next barrier call (issued
/// after each of them arrived, so each covers every write acknowledged before it), and concurrent keep-alives travel
/// in one call. Under load the sequencer answers one call per batch instead of one per request.
/// </summary>
internal sealed class SequencerCalls
{
    private readonly CallBatcher<bool, ReadBarrier> _barriers;
    private readonly CallBatcher<long, LeaseKeepAliveResult> _keepAlives;

    public SequencerCalls(GrainReferences grains)
    {
        _barriers = new(async requests =>
        {
            var barrier = await grains.Sequencer.BarrierAsync();
            return [.. requests.Select(_ => barrier)];
        });
        _keepAlives = new(async ids =>
        {
            var results = await grains.Sequencer.KeepAliveLeasesAsync(ids);
            return [.. results.Ttls.Select(ttl => new LeaseKeepAliveResult(ttl, results.Revision))];
        });
    }

    /// <summary>A read barrier taken after this call began.</summary>
    public Task<ReadBarrier> BarrierAsync() => _barriers.CallAsync(true);

    /// <summary>Refreshes the lease <paramref name="id"/>; see <see cref="IRevisionSequencerGrain.KeepAliveLeasesAsync"/>.</summary>
    public Task<LeaseKeepAliveResult> KeepAliveAsync(long id) => _keepAlives.CallAsync(id);
}

/// <summary>One keep-alive's answer: the TTL the lease was refreshed to (0: no live lease) and the store's revision.</summary>
internal sealed record LeaseKeepAliveResult(long Ttl, long Revision);

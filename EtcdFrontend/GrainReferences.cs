using System.Collections.Concurrent;
using KubeBrain.Grains.Interfaces;

namespace KubeBrain.EtcdFrontend;

/// <summary>
/// The grain references the frontend calls, each made once and reused: making one resolves the grain interface's
/// type through its attributes, which, done per request, took about 7% of a put's CPU. Each is made on first use,
/// once the frontend process is connected and knows the cluster's grain types. Range ids are few (a cluster's key
/// ranges), so every range's reference is kept.
/// </summary>
internal sealed class GrainReferences(IGrainFactory grains)
{
    private readonly ConcurrentDictionary<string, IKeyRangeGrain> _ranges = new();
    private IRevisionSequencerGrain? _sequencer;
    private ITxnCoordinatorGrain? _coordinator;

    public IRevisionSequencerGrain Sequencer => _sequencer ??= grains.GetGrain<IRevisionSequencerGrain>(0);

    public ITxnCoordinatorGrain Coordinator => _coordinator ??= grains.GetGrain<ITxnCoordinatorGrain>(0);

    public IKeyRangeGrain Range(string id) => _ranges.GetOrAdd(id, static (id, grains) => grains.GetGrain<IKeyRangeGrain>(id), grains);
}

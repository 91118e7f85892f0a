using KubeBrain.EtcdFrontend.Batching;
using KubeBrain.EtcdFrontend.Errors;
using KubeBrain.Grains.Interfaces;
using Microsoft.Extensions.Options;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Lease;

/// <summary>
/// etcd's Lease service; each verb is in its own file. The sequencer owns the leases, so every verb but revoke is one
/// call to it (keep-alives batched with the frontend's others); a revoke is one call to the coordinator, which ends the
/// lease at the sequencer and deletes its keys. Headers carry the store's revision as the grains saw it.
/// </summary>
internal sealed partial class LeaseService(GrainReferences grains, SequencerCalls calls, ResponseHeaders headers, StreamShutdown shutdown, IOptions<EtcdFrontendOptions> options) : Rpc.Lease.LeaseBase
{
    private IRevisionSequencerGrain Sequencer => grains.Sequencer;
}

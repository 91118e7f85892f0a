using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.Grains.Interfaces;

/// <summary>
/// The single ordering point: assigns revisions at flush time to the writes that commit, group-commits them
/// through the store and knows the committed revision. Key 0 is the only instance.
/// </summary>
[Alias("kb.IRevisionSequencerGrain")]
public interface IRevisionSequencerGrain : IGrainWithIntegerKey
{
    /// <summary>Commits a submission's revisions in order; answers once they are durable (or refused).</summary>
    [Alias("Submit")]
    Task<SubmitResult> SubmitAsync(Submission submission);

    /// <summary>The committed and compaction revisions, and the range directory's version.</summary>
    [Alias("Barrier")]
    Task<ReadBarrier> BarrierAsync();

    /// <summary>The key ranges that can hold keys.</summary>
    [Alias("Directory")]
    Task<RangeDirectory> DirectoryAsync();

    /// <summary>Claims a key range for a new activation of its grain.</summary>
    [Alias("ClaimRange")]
    Task<RangeClaim> ClaimRangeAsync(string rangeId);

    /// <summary>
    /// etcd's Compact: <see cref="KvStatus.Compacted"/> when <paramref name="revision"/> is not above the
    /// compaction revision, <see cref="KvStatus.FutureRevision"/> when it is above the current one. With
    /// <paramref name="physical"/> it answers after the old versions are removed.
    /// </summary>
    [Alias("Compact")]
    Task<KvStatus> CompactAsync(long revision, bool physical);

    /// <summary>
    /// The watch feed: every committed revision from <paramref name="fromRevision"/> on, whole and in order,
    /// without end (it waits for new commits). Older revisions come from the store; a start below the
    /// compaction revision yields <see cref="FeedItem.Compacted"/> and ends.
    /// </summary>
    [Alias("Feed")]
    IAsyncEnumerable<FeedItem> FeedAsync(long fromRevision, CancellationToken cancellationToken = default);

    /// <summary>Revision, compaction revision and database size.</summary>
    [Alias("Status")]
    Task<StoreStatus> StatusAsync();

    /// <summary>
    /// The store's gauges: revision, compaction revision, database size and live keys. The first call of an
    /// activation counts the live keys in the store once; from then on each commit keeps the count.
    /// </summary>
    [Alias("Gauges")]
    Task<StoreGauges> GaugesAsync();

    /// <summary>
    /// etcd's LeaseGrant: <paramref name="id"/> 0 lets the sequencer choose a positive id; a TTL below etcd's minimum
    /// is raised to it. The lease is durable before the answer.
    /// </summary>
    [Alias("GrantLease")]
    Task<LeaseGrantResult> GrantLeaseAsync(long id, long ttl);

    /// <summary>
    /// The first half of etcd's LeaseRevoke (see <see cref="ITxnCoordinatorGrain.RevokeLeaseAsync"/>): the lease ends
    /// durably at once, so puts naming it are refused from then on; the answer comes once the flush under way has
    /// committed, with the keys that carry the lease. If they are still there some seconds later, the sequencer
    /// deletes them itself.
    /// </summary>
    [Alias("EndLease")]
    Task<LeaseEndResult> EndLeaseAsync(long id);

    /// <summary>etcd's LeaseKeepAlive for a batch of requests: refreshes each lease to its granted TTL.</summary>
    [Alias("KeepAliveLeases")]
    Task<LeaseKeepAliveResults> KeepAliveLeasesAsync(IReadOnlyList<long> ids);

    /// <summary>etcd's LeaseTimeToLive; with <paramref name="keys"/> it also lists the keys that carry the lease.</summary>
    [Alias("LeaseTimeToLive")]
    Task<LeaseTimeToLiveResult> LeaseTimeToLiveAsync(long id, bool keys);

    /// <summary>etcd's LeaseLeases: the live leases.</summary>
    [Alias("ListLeases")]
    Task<LeaseListResult> ListLeasesAsync();
}

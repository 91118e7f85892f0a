namespace KubeBrain.Grains.Interfaces.Model;

/// <summary>How a lease request ended; every value but <see cref="Ok"/> is one of etcd's lease errors.</summary>
public enum LeaseOutcome
{
    /// <summary>The request was carried out.</summary>
    Ok = 0,

    /// <summary>No live lease has the id.</summary>
    NotFound = 1,

    /// <summary>A grant named an id that is taken.</summary>
    AlreadyExists = 2,

    /// <summary>A grant asked for a TTL above the maximum.</summary>
    TtlTooLarge = 3,
}

/// <summary>
/// The answer to a grant: the lease's id and its granted TTL in seconds (the requested one, raised to the minimum),
/// and the store's revision.
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.LeaseGrantResult")]
public sealed record LeaseGrantResult(
    [property: Id(0)] LeaseOutcome Outcome,
    [property: Id(1)] long Id,
    [property: Id(2)] long Ttl,
    [property: Id(3)] long Revision);

/// <summary>The answer to a revoke, with the store's revision once the lease's keys are deleted.</summary>
[GenerateSerializer, Immutable, Alias("kb.LeaseRevokeResult")]
public sealed record LeaseRevokeResult([property: Id(0)] LeaseOutcome Outcome, [property: Id(1)] long Revision);

/// <summary>
/// The sequencer's answer to ending a lease for a revoke: once <see cref="LeaseOutcome.Ok"/>, no put naming the lease
/// commits any more, every one that did has committed, and <see cref="Keys"/> are the keys whose live version carries
/// it, in key order, for the revoke to delete; and the store's revision.
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.LeaseEndResult")]
public sealed record LeaseEndResult([property: Id(0)] LeaseOutcome Outcome, [property: Id(1)] IReadOnlyList<byte[]> Keys, [property: Id(2)] long Revision);

/// <summary>
/// The answer to a batch of keep-alives: per lease, in request order, the granted TTL it was refreshed to, or 0 when
/// no live lease has the id; and the store's revision before the refresh.
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.LeaseKeepAliveResults")]
public sealed record LeaseKeepAliveResults([property: Id(0)] IReadOnlyList<long> Ttls, [property: Id(1)] long Revision);

/// <summary>
/// A lease's remaining time in whole seconds (rounded down; −1 when no live lease has the id), its granted TTL, the
/// keys that carry it in key order (only when asked for) and the store's revision.
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.LeaseTimeToLiveResult")]
public sealed record LeaseTimeToLiveResult(
    [property: Id(0)] long Ttl,
    [property: Id(1)] long GrantedTtl,
    [property: Id(2)] IReadOnlyList<byte[]> Keys,
    [property: Id(3)] long Revision);

/// <summary>The ids of the live leases, soonest expiry first, and the store's revision.</summary>
[GenerateSerializer, Immutable, Alias("kb.LeaseListResult")]
public sealed record LeaseListResult([property: Id(0)] IReadOnlyList<long> Ids, [property: Id(1)] long Revision);

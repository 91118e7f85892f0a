using System.Collections.Immutable;
using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.Grains.Interfaces;

/// <summary>
/// The etcd frontends that are up, for MemberList: each frontend registers at start and again periodically, and is
/// listed until its registration expires. The list lives in memory only; a new activation is filled again by the
/// next refreshes. Key 0 is the only instance.
/// </summary>
[Alias("kb.IFrontendRegistryGrain")]
public interface IFrontendRegistryGrain : IGrainWithIntegerKey
{
    /// <summary>Lists <paramref name="member"/> (replacing an entry of the same id) until <paramref name="ttl"/> has passed.</summary>
    [Alias("Register")]
    Task RegisterAsync(FrontendMember member, TimeSpan ttl);

    /// <summary>Stops listing the member <paramref name="id"/>: its frontend is stopping.</summary>
    [Alias("Unregister")]
    Task UnregisterAsync(ulong id);

    /// <summary>The members whose registration has not expired, by id.</summary>
    [Alias("Members")]
    Task<ImmutableArray<FrontendMember>> MembersAsync();
}

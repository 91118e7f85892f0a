using System.Collections.Immutable;

namespace KubeBrain.Grains.Interfaces.Model;

/// <summary>An etcd frontend as MemberList shows it: its name, the member id derived from the name, its client URLs.</summary>
[GenerateSerializer, Immutable, Alias("kb.FrontendMember")]
public sealed record FrontendMember(
    [property: Id(0)] string Name,
    [property: Id(1)] ulong Id,
    [property: Id(2)] ImmutableArray<string> ClientUrls);

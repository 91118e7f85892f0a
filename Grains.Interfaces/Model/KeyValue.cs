namespace KubeBrain.Grains.Interfaces.Model;

/// <summary>
/// One version of a key as etcd reports it: <see cref="CreateRevision"/> is the revision that created the
/// key's current generation, <see cref="ModRevision"/> the revision of this version, <see cref="Version"/>
/// counts the puts since creation (1 for the creating put).
/// </summary>
[GenerateSerializer, Immutable, Alias("kb.KeyValue")]
public sealed record KeyValue(
    [property: Id(0)] byte[] Key,
    [property: Id(1)] long CreateRevision,
    [property: Id(2)] long ModRevision,
    [property: Id(3)] long Version,
    [property: Id(4)] byte[] Value,
    [property: Id(5)] long Lease);

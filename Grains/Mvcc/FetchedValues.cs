namespace KubeBrain.Grains.Mvcc;

/// <summary>
/// The values one request needed that were not in memory: those read from the store for it, and those still to
/// read. A request evaluates against views that take values from here, and when any was missing it reads them
/// (<see cref="TakeMissing"/>, <see cref="Add"/>) and evaluates again; a value read once is kept for the request
/// even if the range's memory evicts it meanwhile, so the evaluation that answers finds every value it needs.
/// </summary>
internal sealed class FetchedValues
{
    private Dictionary<KeyVersion, byte[]?>? _read;
    private List<KeyVersion>? _missing;

    public bool HasMissing => _missing is { Count: > 0 };

    /// <summary>
    /// The value of a committed version that was not in memory; records it as missing when not read yet. Asking
    /// again for one the store no longer held means memory and store disagree.
    /// </summary>
    public byte[]? Get(KeyVersion version)
    {
        if (_read is not null && _read.TryGetValue(version, out var value))
        {
            return value ?? throw new InvalidOperationException(
                $"the store holds no value for a key at revision {version.Revision}, which is still needed");
        }
        _missing ??= [];
        _missing.Add(version);
        return null;
    }

    /// <summary>The versions found missing since the last call.</summary>
    public List<KeyVersion> TakeMissing()
    {
        var missing = _missing ?? [];
        _missing = null;
        return missing;
    }

    public void Add(KeyVersion version, byte[] value) => Record(version, value);

    /// <summary>Records a version whose value the store no longer holds: no evaluation may need it again.</summary>
    public void Gone(KeyVersion version) => Record(version, null);

    private void Record(KeyVersion version, byte[]? value)
    {
        _read ??= new Dictionary<KeyVersion, byte[]?>(ReferenceEqualityComparer.Instance);
        _read[version] = value;
    }
}

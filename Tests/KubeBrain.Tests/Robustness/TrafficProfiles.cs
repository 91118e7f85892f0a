namespace KubeBrain.Tests.Robustness;

/// <summary>
/// A shape of client traffic for the robustness campaign. A profile holds no client state: every call of
/// <see cref="RunAsync"/> keeps its own, so one instance serves all clients at once.
/// </summary>
public interface ITrafficProfile
{
    string Name { get; }

    /// <summary>
    /// Runs one client's requests until <paramref name="stop"/> is cancelled, then returns. Request failures
    /// never throw (the client's recorder has them); every choice is drawn from the client's
    /// <see cref="TrafficClient.Random"/>, so a seed reproduces the choices of each client.
    /// </summary>
    Task RunAsync(TrafficClient client, CancellationToken stop);
}

/// <summary>The campaign's traffic profiles, by name.</summary>
public static class TrafficProfiles
{
    /// <summary>Every profile, with default settings.</summary>
    public static IReadOnlyList<ITrafficProfile> All { get; } = [new KubernetesTraffic(), new RandomTraffic()];

    /// <summary>
    /// The profile named <paramref name="name"/>. <paramref name="compactionCeiling"/>, if given, caps the
    /// revisions the profiles that compact compact to (see <see cref="RandomTraffic"/>).
    /// </summary>
    public static ITrafficProfile ByName(string name, Func<long>? compactionCeiling = null) => name switch
    {
        KubernetesTraffic.ProfileName => new KubernetesTraffic(),
        RandomTraffic.ProfileName => new RandomTraffic(compactionCeiling),
        _ => throw new ArgumentException($"No traffic profile is named '{name}'; there are {string.Join(", ", All.Select(p => p.Name))}.", nameof(name)),
    };
}

namespace KubeBrain.Grains.Sequencer;

/// <summary>Settings of the revision sequencer.</summary>
public sealed class SequencerOptions
{
    /// <summary>
    /// The sequencer's time lease in the store: a new activation waits out its predecessor's lease (unless it was
    /// released), and an activation answers read barriers only while its own is valid. Shorter than Orleans'
    /// failure detection, so a failover never waits on it in practice.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(10);
}

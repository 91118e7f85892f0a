namespace KubeBrain.Grains.Interfaces;

/// <summary>The meter KubeBrain's own instruments are on; the metrics endpoint exports it beside Orleans's.</summary>
public static class KubeBrainMeter
{
    public const string Name = "KubeBrain";
}

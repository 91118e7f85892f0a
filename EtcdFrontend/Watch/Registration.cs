namespace KubeBrain.EtcdFrontend.Watch;

/// <summary>What became of a watch create request at the hub.</summary>
internal enum Registration
{
    /// <summary>Registered, its created reply queued.</summary>
    Created,

    /// <summary>The client-chosen id is in use on the stream.</summary>
    Duplicate,

    /// <summary>The stream's queue had no room for the reply; wait and try again.</summary>
    QueueFull,
}

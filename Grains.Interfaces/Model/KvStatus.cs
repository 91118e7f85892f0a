namespace KubeBrain.Grains.Interfaces.Model;

/// <summary>The logical outcome of a KV operation; infrastructure failures are exceptions instead.</summary>
public enum KvStatus
{
    /// <summary>The operation was carried out.</summary>
    Ok = 0,

    /// <summary>The requested revision is below the compaction revision.</summary>
    Compacted = 1,

    /// <summary>The requested revision is above the current revision.</summary>
    FutureRevision = 2,

    /// <summary>A put named a lease that does not exist.</summary>
    LeaseNotFound = 3,

    /// <summary>A put with ignore_value or ignore_lease named a key that does not exist.</summary>
    KeyNotFound = 4,

    /// <summary>A transaction would write one key twice in one revision (a put and a delete of it), which is not supported.</summary>
    KeyWrittenTwice = 5,
}

namespace KubeBrain.EtcdFrontend;

/// <summary>How the etcd frontend presents itself and which limits it enforces.</summary>
public sealed class EtcdFrontendOptions
{
    /// <summary>etcd's default <c>--max-request-bytes</c>: 1.5 MiB.</summary>
    public const int DefaultMaxRequestBytes = 1536 * 1024;

    /// <summary>etcd's default <c>--max-txn-ops</c>.</summary>
    public const int DefaultMaxTxnOps = 128;

    /// <summary>The gRPC receive limit's allowance above <see cref="MaxRequestBytes"/>, as etcd's.</summary>
    private const int GrpcOverheadBytes = 512 * 1024;

    /// <summary>The member name (etcd's <c>--name</c>).</summary>
    public string Name { get; set; } = "default";

    /// <summary>The client URLs this member advertises (etcd's <c>--advertise-client-urls</c>).</summary>
    public IReadOnlyList<string> AdvertiseClientUrls { get; set; } = ["http://127.0.0.1:2379"];

    /// <summary>The largest write request accepted, in bytes.</summary>
    public int MaxRequestBytes { get; set; } = DefaultMaxRequestBytes;

    /// <summary>The largest gRPC message received, and the size watch responses are split at: <see cref="MaxRequestBytes"/> and etcd's allowance.</summary>
    public int MaxMessageBytes => MaxRequestBytes + GrpcOverheadBytes;

    /// <summary>The most operations one transaction branch may hold.</summary>
    public int MaxTxnOps { get; set; } = DefaultMaxTxnOps;

    /// <summary>How often idle synced watchers that asked for progress_notify get a progress response (etcd: 10 min).</summary>
    public TimeSpan WatchProgressNotifyInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The etcd version reported by Maintenance.Status (the apiserver gates features on it).</summary>
    public string EmulatedEtcdVersion { get; set; } = "3.6.0";
}

using Grpc.Core;
using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.EtcdFrontend.Errors;

/// <summary>
/// etcd's gRPC errors with their exact codes and texts: clients map errors back to their types by comparing
/// the message, so these strings must not change.
/// </summary>
internal static class EtcdErrors
{
    public static RpcException EmptyKey => InvalidArgument("etcdserver: key is not provided");

    public static RpcException KeyNotFound => InvalidArgument("etcdserver: key not found");

    public static RpcException ValueProvided => InvalidArgument("etcdserver: value is provided");

    public static RpcException LeaseProvided => InvalidArgument("etcdserver: lease is provided");

    public static RpcException TooManyOps => InvalidArgument("etcdserver: too many operations in txn request");

    public static RpcException DuplicateKey => InvalidArgument("etcdserver: duplicate key given in txn request");

    public static RpcException RequestTooLarge => InvalidArgument("etcdserver: request is too large");

    public static RpcException InvalidSortOption => InvalidArgument("etcdserver: invalid sort option");

    public static RpcException Compacted => new(new Status(StatusCode.OutOfRange, "etcdserver: mvcc: required revision has been compacted"));

    public static RpcException FutureRevision => new(new Status(StatusCode.OutOfRange, "etcdserver: mvcc: required revision is a future revision"));

    public static RpcException LeaseNotFound => new(new Status(StatusCode.NotFound, "etcdserver: requested lease not found"));

    public static RpcException LeaseExists => new(new Status(StatusCode.FailedPrecondition, "etcdserver: lease already exists"));

    public static RpcException LeaseTtlTooLarge => new(new Status(StatusCode.OutOfRange, "etcdserver: too large lease TTL"));

    public static RpcException Timeout => new(new Status(StatusCode.Unavailable, "etcdserver: request timed out"));

    public static RpcException Stopped => new(new Status(StatusCode.Unavailable, "etcdserver: server stopped"));

    /// <summary>A request field this server does not implement, refused by name rather than ignored.</summary>
    public static RpcException Unsupported(string field) =>
        new(new Status(StatusCode.Unimplemented, $"kubebrain: {field} is not supported"));

    /// <summary>The error for a failed logical status.</summary>
    public static RpcException For(KvStatus status) => status switch
    {
        KvStatus.Compacted => Compacted,
        KvStatus.FutureRevision => FutureRevision,
        KvStatus.LeaseNotFound => LeaseNotFound,
        KvStatus.KeyNotFound => KeyNotFound,
        KvStatus.KeyWrittenTwice => Unsupported("writing one key twice in one txn (a put and a delete of it)"),
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "not an error status"),
    };

    /// <summary>The error for a failed lease outcome.</summary>
    public static RpcException For(LeaseOutcome outcome) => outcome switch
    {
        LeaseOutcome.NotFound => LeaseNotFound,
        LeaseOutcome.AlreadyExists => LeaseExists,
        LeaseOutcome.TtlTooLarge => LeaseTtlTooLarge,
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, "not an error outcome"),
    };

    private static RpcException InvalidArgument(string message) => new(new Status(StatusCode.InvalidArgument, message));
}

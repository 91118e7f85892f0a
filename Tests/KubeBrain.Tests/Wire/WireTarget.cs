using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using KubeBrain.Silo;
using KubeBrain.Tests.Infrastructure;
using Xunit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Wire;

/// <summary>
/// One etcd-API endpoint a wire test talks to over a real socket: a KubeBrain server started in the test process,
/// or a real etcd 3.4 (the oracle that proves each expectation is etcd's). Every call gets a deadline so a server
/// that never answers fails the test instead of hanging the suite.
/// </summary>
public sealed class WireTarget : IAsyncDisposable
{
    public static readonly TimeSpan CallDeadline = TimeSpan.FromSeconds(30);

    private readonly IAsyncDisposable _owner;

    private WireTarget(string name, string endpoint, GrpcChannel channel, IAsyncDisposable owner)
    {
        Name = name;
        Endpoint = endpoint;
        Channel = channel;
        _owner = owner;
        Invoker = channel.Intercept(new DeadlineInterceptor(CallDeadline));
        Kv = new Rpc.KV.KVClient(Invoker);
    }

    /// <summary>"kubebrain" or "etcd".</summary>
    public string Name { get; }

    public bool IsEtcd => Name == "etcd";

    /// <summary>http://127.0.0.1:port.</summary>
    public string Endpoint { get; }

    public GrpcChannel Channel { get; }

    /// <summary>The channel with a default deadline on every call.</summary>
    public CallInvoker Invoker { get; }

    public Rpc.KV.KVClient Kv { get; }

    public static async Task<WireTarget> StartKubeBrainAsync(Func<ServerOptions, ServerOptions>? configure = null, StorageKind storage = StorageKind.Memory)
    {
        var kb = await KubeBrainInstance.StartAsync(storage, configure: configure);
        return new WireTarget("kubebrain", kb.Endpoint, kb.Channel, kb);
    }

    public static async Task<WireTarget> StartEtcdAsync()
    {
        var etcd = await EtcdProcess.StartAsync();
        return new WireTarget("etcd", etcd.Endpoint, etcd.Channel, etcd);
    }

    public ValueTask DisposeAsync() => _owner.DisposeAsync();

    public override string ToString() => Name;
}

/// <summary>Adds a deadline to calls that have none.</summary>
public sealed class DeadlineInterceptor(TimeSpan timeout) : Interceptor
{
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        return continuation(request, WithDeadline(context));
    }

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncServerStreamingCallContinuation<TRequest, TResponse> continuation)
    {
        return continuation(request, WithDeadline(context));
    }

    private ClientInterceptorContext<TRequest, TResponse> WithDeadline<TRequest, TResponse>(ClientInterceptorContext<TRequest, TResponse> context)
        where TRequest : class
        where TResponse : class =>
        context.Options.Deadline is null
            ? new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host, context.Options.WithDeadline(DateTime.UtcNow + timeout))
            : context;
}

/// <summary>A server shared by the tests of one class; which kind is chosen by the subclass.</summary>
public abstract class WireFixture : IAsyncLifetime
{
    private WireTarget? _target;

    public WireTarget Target => _target ?? throw new InvalidOperationException("the fixture has not started");

    /// <summary>Starts another server of the same kind, fresh (revision 1), owned by the caller.</summary>
    public abstract Task<WireTarget> StartFreshAsync();

    public async Task InitializeAsync() => _target = await StartFreshAsync();

    public async Task DisposeAsync()
    {
        if (_target is not null)
        {
            await _target.DisposeAsync();
        }
    }
}

/// <summary>A KubeBrain server (in-memory storage) shared by one test class.</summary>
public sealed class KubeBrainFixture : WireFixture
{
    public override Task<WireTarget> StartFreshAsync() => WireTarget.StartKubeBrainAsync();
}

/// <summary>A real etcd 3.4 shared by one test class.</summary>
public sealed class EtcdFixture : WireFixture
{
    public override Task<WireTarget> StartFreshAsync() => WireTarget.StartEtcdAsync();
}

/// <summary>A KubeBrain server on the SQLite store (the default storage) in a fresh temporary data directory.</summary>
public sealed class SqliteKubeBrainFixture : WireFixture
{
    public override Task<WireTarget> StartFreshAsync() => WireTarget.StartKubeBrainAsync(storage: StorageKind.Sqlite);
}

using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Migrate;

/// <summary>A request a store refused or could not answer, as the one line the program prints.</summary>
internal sealed class StoreException(string message, StatusCode code) : Exception(message)
{
    public StatusCode Code { get; } = code;
}

/// <summary>
/// One side of a run: a client of an etcd v3 endpoint, named for messages ("etcd at http://…"). Unary calls
/// have a deadline and are retried while the store answers Unavailable or does not answer in time (every call
/// a run makes may be repeated: puts and deletes of whole values, grants of a fixed ID), for up to
/// <see cref="RetryFor"/>; any other error becomes a <see cref="StoreException"/> naming the store.
/// </summary>
internal sealed class Store : IDisposable
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ReachTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan RetryFor = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(500);

    private readonly GrpcChannel _channel;

    public Store(string product, Uri url, TlsFiles tls, string flag)
    {
        Product = product;
        Name = $"{product} at {url.GetLeftPart(UriPartial.Authority)}";
        _channel = GrpcChannel.ForAddress(url, new GrpcChannelOptions
        {
            HttpHandler = Handler(url, tls, flag),
            MaxReceiveMessageSize = null,
            MaxSendMessageSize = null,
            ThrowOperationCanceledOnCancellation = true,
        });
        Kv = new Rpc.KV.KVClient(_channel);
        Lease = new Rpc.Lease.LeaseClient(_channel);
        Watch = new Rpc.Watch.WatchClient(_channel);
    }

    /// <summary>"etcd" or "KubeBrain".</summary>
    public string Product { get; }

    /// <summary>"etcd at http://host:port" or "KubeBrain at …".</summary>
    public string Name { get; }

    public Rpc.KV.KVClient Kv { get; }

    public Rpc.Lease.LeaseClient Lease { get; }

    public Rpc.Watch.WatchClient Watch { get; }

    /// <summary>The store's current revision; a first contact that fails at once, without retries.</summary>
    public async Task<long> ReachAsync(CancellationToken cancellationToken)
    {
        var maintenance = new Rpc.Maintenance.MaintenanceClient(_channel);
        try
        {
            var status = await maintenance.StatusAsync(new Rpc.StatusRequest(), deadline: DateTime.UtcNow + ReachTimeout, cancellationToken: cancellationToken);
            return status.Header.Revision;
        }
        catch (RpcException e)
        {
            throw new StoreException($"cannot reach {Name}: {Detail(e)}", e.StatusCode);
        }
    }

    /// <summary>Runs a unary call (<paramref name="what"/> names it in errors) with a deadline and retries.</summary>
    public async Task<T> CallAsync<T>(string what, Func<CallOptions, AsyncUnaryCall<T>> call, CancellationToken cancellationToken)
    {
        var giveUp = DateTime.UtcNow + RetryFor;
        while (true)
        {
            try
            {
                return await call(new CallOptions(deadline: DateTime.UtcNow + CallTimeout, cancellationToken: cancellationToken));
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded && DateTime.UtcNow < giveUp)
            {
                await Task.Delay(RetryDelay, cancellationToken);
            }
            catch (RpcException e)
            {
                throw Failure(what, e);
            }
        }
    }

    /// <summary>The error for <paramref name="e"/>, raised by <paramref name="what"/>.</summary>
    public StoreException Failure(string what, RpcException e) => e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded
        ? new StoreException($"lost {Name} ({what}): {Detail(e)}", e.StatusCode)
        : new StoreException($"{Name} refused {what}: {e.StatusCode}: {Detail(e)}", e.StatusCode);

    public void Dispose() => _channel.Dispose();

    /// <summary>The status detail on one line, with the underlying cause (e.g. "Connection refused") when there is one.</summary>
    private static string Detail(RpcException e)
    {
        var cause = e.Status.DebugException?.GetBaseException().Message;
        var detail = cause is null || e.Status.Detail.Contains(cause, StringComparison.Ordinal) ? e.Status.Detail : $"{e.Status.Detail} ({cause})";
        return string.Join(' ', detail.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
    }

    private static SocketsHttpHandler Handler(Uri url, TlsFiles tls, string flag)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = ReachTimeout,
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
        };
        if (url.Scheme != Uri.UriSchemeHttps)
        {
            return handler;
        }
        var ssl = new SslClientAuthenticationOptions();
        if (tls.CaCert is { } caCert)
        {
            var authorities = Load($"{flag}-cacert", caCert, () =>
            {
                var certificates = new X509Certificate2Collection();
                certificates.ImportFromPemFile(caCert);
                return certificates.Count > 0 ? certificates : throw new CryptographicException("no certificate in the file");
            });
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.AddRange(authorities);
            ssl.CertificateChainPolicy = policy;
        }
        if (tls is { Cert: { } cert, Key: { } key })
        {
            ssl.ClientCertificates = [Load($"{flag}-cert", cert, () => X509Certificate2.CreateFromPemFile(cert, key))];
        }
        handler.SslOptions = ssl;
        return handler;
    }

    private static T Load<T>(string flag, string path, Func<T> load)
    {
        try
        {
            return load();
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException($"{flag}: cannot load '{path}': {e.Message}");
        }
    }
}

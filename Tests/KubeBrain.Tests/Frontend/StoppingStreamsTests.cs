using Grpc.Core;
using KubeBrain.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Frontend;

/// <summary>
/// A server that begins to stop while a watch is delivering events, or while a lease keep-alive stream is renewing,
/// ends the stream with etcd's Unavailable "server stopped", as its status, not with a reset of the stream. Each stream
/// is busy when the stop begins, so a response is being written or about to be. The stop is begun through the host's
/// lifetime (as SIGTERM does) and the test reads the outcome before the server closes its connections: .NET's HTTP/2
/// client can report a connection closed right behind a stream's last frames instead of the stream's status, a race
/// of the client's, not of the server under test.
/// </summary>
public sealed class StoppingStreamsTests
{
    private const int Stops = 3;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AWatchDeliveringEvents_EndsWithServerStopped()
    {
        for (var i = 0; i < Stops; i++)
        {
            await using var server = await KubeBrainInstance.StartAsync();
            using var channel = server.OpenChannel(null);
            using var watch = new Rpc.Watch.WatchClient(channel).Watch();
            await watch.RequestStream.WriteAsync(new Rpc.WatchRequest
            {
                CreateRequest = new Rpc.WatchCreateRequest { Key = Etcd.Bytes("/busy/"), RangeEnd = Etcd.PrefixEnd("/busy/") },
            });
            Assert.True(await watch.ResponseStream.MoveNext() && watch.ResponseStream.Current.Created);
            using var writing = new CancellationTokenSource();
            var writer = PutUntilAsync(server, writing.Token);
            try
            {
                var busy = new Busy();
                var ended = ReadUntilEndAsync(watch.ResponseStream, busy.Count);
                Assert.True(await Task.WhenAny(ended, busy.Reached) != ended, "the watch ended before the stop");
                server.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
                AssertServerStopped(await ended.WaitAsync(Wait));
            }
            finally
            {
                await writing.CancelAsync();
                await writer;
            }
        }
    }

    [Fact]
    public async Task AKeepAliveStreamRenewing_EndsWithServerStopped()
    {
        for (var i = 0; i < Stops; i++)
        {
            await using var server = await KubeBrainInstance.StartAsync();
            using var channel = server.OpenChannel(null);
            var lease = await new Rpc.Lease.LeaseClient(channel).LeaseGrantAsync(new Rpc.LeaseGrantRequest { TTL = 600 });
            using var keepAlive = new Rpc.Lease.LeaseClient(channel).LeaseKeepAlive();
            var busy = new Busy();
            var renewing = RenewUntilEndAsync(keepAlive, lease.ID, busy.Count);
            Assert.True(await Task.WhenAny(renewing, busy.Reached) != renewing, "the keep-alive stream ended before the stop");
            server.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
            AssertServerStopped(await renewing.WaitAsync(Wait));
        }
    }

    /// <summary>Counts a stream's responses; <see cref="Reached"/> once there were enough for the stream to be busy.</summary>
    private sealed class Busy
    {
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _count;

        public Task Reached => _reached.Task;

        public void Count()
        {
            if (Interlocked.Increment(ref _count) == 200)
            {
                _reached.TrySetResult();
            }
        }
    }

    private static void AssertServerStopped(RpcException? ended)
    {
        Assert.True(
            ended is { StatusCode: StatusCode.Unavailable, Status.Detail: "etcdserver: server stopped" },
            $"the stream ended with {ended?.ToString() ?? "no error"}");
    }

    /// <summary>Puts under /busy/ until told to stop; the failures of puts during the stop are expected.</summary>
    private static async Task PutUntilAsync(KubeBrainInstance server, CancellationToken stop)
    {
        using var channel = server.OpenChannel(null);
        var kv = new Rpc.KV.KVClient(channel);
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            try
            {
                await kv.PutAsync(Etcd.Put($"/busy/{n % 50}", $"value-{n}"), cancellationToken: stop);
            }
            catch (RpcException)
            {
                await Task.Yield();
            }
        }
    }

    /// <summary>Reads the watch until it ends; the exception it ended with, or null if it ended cleanly.</summary>
    private static async Task<RpcException?> ReadUntilEndAsync(IAsyncStreamReader<Rpc.WatchResponse> responses, Action counted)
    {
        try
        {
            while (await responses.MoveNext())
            {
                foreach (var _ in responses.Current.Events)
                {
                    counted();
                }
            }
            return null;
        }
        catch (RpcException e)
        {
            return e;
        }
    }

    /// <summary>Renews one lease after another on the stream until it ends, as <see cref="ReadUntilEndAsync"/>.</summary>
    private static async Task<RpcException?> RenewUntilEndAsync(
        AsyncDuplexStreamingCall<Rpc.LeaseKeepAliveRequest, Rpc.LeaseKeepAliveResponse> stream, long lease, Action counted)
    {
        try
        {
            while (true)
            {
                await stream.RequestStream.WriteAsync(new Rpc.LeaseKeepAliveRequest { ID = lease });
                if (!await stream.ResponseStream.MoveNext())
                {
                    return null;
                }
                counted();
            }
        }
        catch (RpcException e)
        {
            return e;
        }
    }
}

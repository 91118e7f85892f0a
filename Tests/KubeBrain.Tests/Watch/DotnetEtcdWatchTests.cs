using System.Threading.Channels;
using dotnet_etcd;
using Google.Protobuf;
using KubeBrain.Tests.Wire;
using Xunit;
using Client = Etcdserverpb;
using ClientEvent = Mvccpb.Event.Types.EventType;

namespace KubeBrain.Tests.Watch;

/// <summary>
/// Watches through the dotnet-etcd 10.0.0 client library (which picks its own non-zero watch ids and runs its own
/// stream); run against KubeBrain and, as the oracle, against etcd 3.4.
/// </summary>
public abstract class DotnetEtcdWatchContract(WatchFixture fixture) : IDisposable
{
    private readonly EtcdClient _client = new(fixture.Target.Endpoint, interceptors: [new DeadlineInterceptor(WireTarget.CallDeadline)]);

    public void Dispose()
    {
        _client.Dispose();
        GC.SuppressFinalize(this);
    }

    private static async Task<Client.WatchResponse> NextEventsAsync(ChannelReader<Client.WatchResponse> responses)
    {
        using var timeout = new CancellationTokenSource(WatchSession.DefaultWait);
        while (true)
        {
            var response = await responses.ReadAsync(timeout.Token);
            if (response.Events.Count > 0)
            {
                return response;
            }
        }
    }

    [Fact]
    public async Task WatchAKeyAndAPrefix_ReceiveTheirEvents_ThenCancel()
    {
        var p = WatchKit.NewPrefix("dotnet-etcd");
        var keyResponses = Channel.CreateUnbounded<Client.WatchResponse>();
        var prefixResponses = Channel.CreateUnbounded<Client.WatchResponse>();

        var keyWatch = await _client.WatchAsync(
            new Client.WatchRequest { CreateRequest = new Client.WatchCreateRequest { Key = ByteString.CopyFromUtf8(p + "k"), PrevKv = true } },
            (Client.WatchResponse r) => keyResponses.Writer.TryWrite(r));
        var prefixWatch = await _client.WatchRangeAsync(p, (Client.WatchResponse r) => prefixResponses.Writer.TryWrite(r));
        await WaitCreatedAsync(keyResponses.Reader);
        await WaitCreatedAsync(prefixResponses.Reader);

        var put = await _client.PutAsync(p + "k", "v1");
        var other = await _client.PutAsync(p + "other", "o");
        var deleted = await _client.DeleteAsync(p + "k");

        var keyPut = Assert.Single((await NextEventsAsync(keyResponses.Reader)).Events);
        Assert.Equal((ClientEvent.Put, p + "k", "v1", put.Header.Revision, put.Header.Revision), (keyPut.Type, keyPut.Kv.Key.ToStringUtf8(), keyPut.Kv.Value.ToStringUtf8(), keyPut.Kv.CreateRevision, keyPut.Kv.ModRevision));
        var keyDelete = Assert.Single((await NextEventsAsync(keyResponses.Reader)).Events);
        Assert.Equal((ClientEvent.Delete, deleted.Header.Revision, "v1"), (keyDelete.Type, keyDelete.Kv.ModRevision, keyDelete.PrevKv.Value.ToStringUtf8()));
        var prefixEvents = new List<Mvccpb.Event>();
        while (prefixEvents.Count < 3)
        {
            prefixEvents.AddRange((await NextEventsAsync(prefixResponses.Reader)).Events);
        }
        Assert.Equal([put.Header.Revision, other.Header.Revision, deleted.Header.Revision], prefixEvents.Select(e => e.Kv.ModRevision));

        _client.CancelWatch(keyWatch);
        _client.CancelWatch(prefixWatch);

        // The client's stream still serves a new watch after the cancels.
        var again = Channel.CreateUnbounded<Client.WatchResponse>();
        await _client.WatchAsync(new Client.WatchRequest { CreateRequest = new Client.WatchCreateRequest { Key = ByteString.CopyFromUtf8(p + "k") } }, (Client.WatchResponse r) => again.Writer.TryWrite(r));
        await WaitCreatedAsync(again.Reader);
        var later = await _client.PutAsync(p + "k", "v2");
        var e = Assert.Single((await NextEventsAsync(again.Reader)).Events);
        Assert.Equal((later.Header.Revision, "v2", 1L), (e.Kv.ModRevision, e.Kv.Value.ToStringUtf8(), e.Kv.Version));
    }

    private static async Task WaitCreatedAsync(ChannelReader<Client.WatchResponse> responses)
    {
        using var timeout = new CancellationTokenSource(WatchSession.DefaultWait);
        var response = await responses.ReadAsync(timeout.Token);
        Assert.True(response.Created && !response.Canceled, response.ToString());
    }
}

public sealed class DotnetEtcdWatchTests(KubeBrainWatchFixture fixture) : DotnetEtcdWatchContract(fixture), IClassFixture<KubeBrainWatchFixture>;

public sealed class DotnetEtcdWatchTestsOnEtcd(EtcdWatchFixture fixture) : DotnetEtcdWatchContract(fixture), IClassFixture<EtcdWatchFixture>;

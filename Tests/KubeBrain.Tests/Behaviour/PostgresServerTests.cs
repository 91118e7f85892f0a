using Grpc.Core;
using KubeBrain.Silo;
using KubeBrain.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Xunit;
using static KubeBrain.Tests.Wire.WireHelpers;
using Mvcc = KubeBrain.Protos.Mvccpb;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Behaviour;

/// <summary>The server on PostgreSQL (<c>--storage postgres</c>), as a user runs it and through an outage.</summary>
public sealed class PostgresServerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The server process serves put, get, delete and watch from PostgreSQL; killed with -9 and started again it
    /// has every acknowledged write, continues the revisions, and replays the history to a watch from the store. The
    /// restart keeps the silo's address and ports, so it declares its killed incarnation in the membership table dead
    /// as it joins.
    /// </summary>
    [Fact]
    public async Task TheServerOnPostgresServesAndKeepsItsDataAcrossAKill()
    {
        using var database = SharedPostgres.CreateDatabase();
        string[] args =
        [
            "--storage", "postgres", "--postgres-connection-string", database.ConnectionString, "--postgres-pool-size", "4",
            "--advertise-address", "127.0.0.1", "--silo-port", ServerProcess.Port(), "--gateway-port", ServerProcess.Port(),
        ];
        List<string> events;
        await using (var server = await ServerProcess.StartAsync(null, args))
        {
            Assert.Contains("(postgres at ", server.Output, StringComparison.Ordinal);
            using var watch = await WatchAsync(server.Channel, 2);
            await server.Kv.PutAsync(Put("/registry/pods/ns/a", "a1"));
            await server.Kv.PutAsync(Put("/registry/pods/ns/b", "b1"));
            await server.Kv.PutAsync(Put("/registry/pods/ns/a", "a2"));
            Assert.Equal(5, (await server.Kv.DeleteRangeAsync(Delete("/registry/pods/ns/b"))).Header.Revision);
            events = await EventsAsync(watch, 4);
            Assert.Equal(["PUT /registry/pods/ns/a a1 @2", "PUT /registry/pods/ns/b b1 @3", "PUT /registry/pods/ns/a a2 @4", "DELETE /registry/pods/ns/b  @5"], events);
            await server.KillAsync();
        }

        await using var restarted = await ServerProcess.StartAsync(null, args);
        var pods = await restarted.Kv.RangeAsync(Prefix("/registry/pods/"));
        Assert.Equal(5, pods.Header.Revision);
        AssertKv(Assert.Single(pods.Kvs), "/registry/pods/ns/a", "a2", 2, 4, 2);
        Assert.Equal(6, (await restarted.Kv.PutAsync(Put("/registry/pods/ns/c", "c1"))).Header.Revision);
        using var replay = await WatchAsync(restarted.Channel, 2);
        Assert.Equal([.. events, "PUT /registry/pods/ns/c c1 @6"], await EventsAsync(replay, 5));
    }

    /// <summary>
    /// While PostgreSQL is down, requests that need it — a historical read that a key range serves from the store, a
    /// key range activating, a write — are answered Unavailable, and the server serves again once it is back.
    /// </summary>
    [Fact]
    public async Task DuringAnOutageRequestsThatNeedTheStoreAreUnavailable_AndTheServerRecoversByItself()
    {
        using var postgres = PostgresProcess.Start();
        var database = postgres.CreateDatabase();
        await using var server = await KubeBrainInstance.StartAsync(StorageKind.Postgres, configure: o => o with { PostgresConnectionString = database });
        await server.Kv.PutAsync(Put("/registry/pods/ns/a", "a1"));
        // The configmaps range activates at revision 2, so it reads revision 1 from the store.
        await server.Kv.PutAsync(Put("/registry/configmaps/ns/x", "x1"));
        await server.Kv.PutAsync(Put("/registry/configmaps/ns/x", "x2"));

        postgres.StopServer();

        await AssertUnavailableAsync(() => server.Kv.RangeAsync(new Rpc.RangeRequest { Key = B("/registry/configmaps/ns/x"), Revision = 1 }).ResponseAsync);
        await AssertUnavailableAsync(() => server.Kv.PutAsync(Put("/registry/pods/ns/a", "a2")).ResponseAsync);
        await AssertUnavailableAsync(() => server.Kv.RangeAsync(Get("/registry/secrets/ns/s")).ResponseAsync);

        postgres.StartServer();

        var put = await EventuallyAsync(() => server.Kv.PutAsync(Put("/registry/pods/ns/a", "a2")).ResponseAsync);
        Assert.Equal(5, put.Header.Revision);
        Assert.Empty((await EventuallyAsync(() => server.Kv.RangeAsync(new Rpc.RangeRequest { Key = B("/registry/configmaps/ns/x"), Revision = 1 }).ResponseAsync)).Kvs);
        Assert.Empty((await server.Kv.RangeAsync(Get("/registry/secrets/ns/s"))).Kvs);
        Assert.Equal("x1", S(Assert.Single((await server.Kv.RangeAsync(new Rpc.RangeRequest { Key = B("/registry/configmaps/ns/x"), Revision = 3 })).Kvs).Value));
    }

    /// <summary>
    /// PostgreSQL stopped (immediate shutdown, so commits in flight have an unknown outcome) and started again under
    /// concurrent writes: puts are answered Unavailable during the outage and succeed after it, every acknowledged
    /// put is present at its revision, and the revisions stay dense. A commit of unknown outcome holds the writes
    /// behind it until the database answers, so they end Unavailable at the grain response timeout (shortened here).
    /// </summary>
    [Fact]
    public async Task RestartingPostgresMidLoadLosesNoAcknowledgedWrite()
    {
        using var postgres = PostgresProcess.Start();
        var database = postgres.CreateDatabase();
        await using var server = await KubeBrainInstance.StartAsync(
            StorageKind.Postgres,
            configure: o => o with { PostgresConnectionString = database },
            customize: builder => builder.Services.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(3)));
        var start = (await server.Kv.PutAsync(Put("/registry/restart-start/k", "0"))).Header.Revision;
        var load = new WriteLoad("/registry/restart", Wait);
        var writers = Enumerable.Range(0, 4).Select(i => load.WriteAsync(server.Kv, i, () => false)).ToList();
        await load.AckedAtLeastAsync(30);

        postgres.StopServer(immediate: true);
        await load.SawUnavailableAsync();
        var ackedBeforeRestart = load.Acked.Count;
        postgres.StartServer();
        await load.AckedAtLeastAsync(ackedBeforeRestart + 30);
        load.Stop();
        await Task.WhenAll(writers);

        var listed = await EventuallyAsync(() => server.Kv.RangeAsync(new Rpc.RangeRequest { Key = B("/registry/restart"), RangeEnd = PrefixEnd("/registry/restart") }).ResponseAsync);
        var stored = listed.Kvs.ToDictionary(kv => S(kv.Key), kv => kv.ModRevision);
        Assert.All(load.Acked, acked => Assert.Equal(acked.Revision, stored.GetValueOrDefault(acked.Key)));
        Assert.Equal(
            Enumerable.Range(0, (int)(listed.Header.Revision - start + 1)).Select(i => start + i),
            stored.Values.Order());
    }

    private static async Task AssertUnavailableAsync(Func<Task> call) =>
        await AssertRpcErrorAsync(StatusCode.Unavailable, "etcdserver: request timed out", call);

    /// <summary>Retries while the server still answers Unavailable after the store came back (a key range reloads).</summary>
    private static async Task<T> EventuallyAsync<T>(Func<Task<T>> call)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            try
            {
                return await call();
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    private static async Task<AsyncDuplexStreamingCall<Rpc.WatchRequest, Rpc.WatchResponse>> WatchAsync(Grpc.Net.Client.GrpcChannel channel, long fromRevision)
    {
        var call = new Rpc.Watch.WatchClient(channel).Watch(deadline: DateTime.UtcNow + Wait);
        await call.RequestStream.WriteAsync(new Rpc.WatchRequest
        {
            CreateRequest = new Rpc.WatchCreateRequest { Key = B("/registry/pods/"), RangeEnd = PrefixEnd("/registry/pods/"), StartRevision = fromRevision },
        });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.True(call.ResponseStream.Current.Created);
        return call;
    }

    /// <summary>The next <paramref name="count"/> events of the watch as "TYPE key value @revision".</summary>
    private static async Task<List<string>> EventsAsync(AsyncDuplexStreamingCall<Rpc.WatchRequest, Rpc.WatchResponse> call, int count)
    {
        var events = new List<string>();
        while (events.Count < count && await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            events.AddRange(call.ResponseStream.Current.Events.Select(e =>
                $"{(e.Type == Mvcc.Event.Types.EventType.Put ? "PUT" : "DELETE")} {S(e.Kv.Key)} {S(e.Kv.Value)} @{e.Kv.ModRevision}"));
        }
        return events;
    }
}

using Grpc.Health.V1;
using Xunit;
using static KubeBrain.Tests.Wire.WireHelpers;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Wire;

/// <summary>Maintenance.Status, Cluster.MemberList, grpc.health.v1 and the apiserver's health probe on KubeBrain.</summary>
public sealed class MaintenanceTests(KubeBrainFixture fixture) : IClassFixture<KubeBrainFixture>
{
    private WireTarget Kb => fixture.Target;

    [Fact]
    public async Task Status_ReportsVersion360_APositiveDbSize_AndTheRevisionAsRaftIndex()
    {
        var revision = (await Kb.Kv.PutAsync(Put(NewPrefix("status") + "k", "v"))).Header.Revision;

        var status = await new Rpc.Maintenance.MaintenanceClient(Kb.Invoker).StatusAsync(new Rpc.StatusRequest());

        Assert.Equal("3.6.0", status.Version);
        Assert.True(status.DbSize > 0, $"dbSize {status.DbSize}");
        Assert.Equal((ulong)revision, status.RaftIndex);
        Assert.Equal(revision, status.Header.Revision);
        Assert.NotEqual(0UL, status.Leader);
        Assert.Equal(status.Header.MemberId, status.Leader);
        Assert.False(status.IsLearner);
        Assert.Empty(status.Errors);
    }

    [Fact]
    public async Task Status_Version_FollowsEmulatedEtcdVersion()
    {
        await using var kb = await WireTarget.StartKubeBrainAsync(o => o with { EmulatedEtcdVersion = "3.5.13" });

        var status = await new Rpc.Maintenance.MaintenanceClient(kb.Invoker).StatusAsync(new Rpc.StatusRequest());

        Assert.Equal("3.5.13", status.Version);
        Assert.Equal(1UL, status.RaftIndex);
    }

    [Fact]
    public async Task MemberList_AnswersOneMember_WhoseClientUrlIsTheEndpoint()
    {
        var response = await new Rpc.Cluster.ClusterClient(Kb.Invoker).MemberListAsync(new Rpc.MemberListRequest());

        var member = Assert.Single(response.Members);
        Assert.Equal([Kb.Endpoint], member.ClientURLs);
        Assert.NotEqual(0UL, member.ID);
        Assert.Equal(response.Header.MemberId, member.ID);
        Assert.False(member.IsLearner);
        Assert.True(response.Header.Revision >= 1);
    }

    [Fact]
    public async Task GrpcHealthCheck_IsServing()
    {
        var response = await new Health.HealthClient(Kb.Invoker).CheckAsync(new HealthCheckRequest());

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
    }

    [Fact]
    public async Task RangeOnRegistryHealth_Works()
    {
        var revision = await CurrentRevisionAsync(Kb.Kv);

        var response = await Kb.Kv.RangeAsync(Get("/registry/health"));

        Assert.Empty(response.Kvs);
        Assert.Equal(0, response.Count);
        Assert.True(response.Header.Revision >= revision);
    }
}

using KubeBrain.Grains.Interfaces;
using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Behaviour;

/// <summary>
/// MemberList answers from the frontend registry: every registered frontend while its registration lasts, and the
/// frontend asked, whether or not the registry has it.
/// </summary>
public sealed class MemberListTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private KubeBrainInstance Kb => fixture.Instance;

    private IFrontendRegistryGrain Registry => Kb.Services.GetRequiredService<IGrainFactory>().GetGrain<IFrontendRegistryGrain>(0);

    [Fact]
    public async Task AnotherFrontendIsListedUntilItsRegistrationExpires()
    {
        var other = new FrontendMember("other", 42, ["http://10.0.0.9:2379"]);

        await Registry.RegisterAsync(other, TimeSpan.FromSeconds(5));
        var listed = await MembersAsync();
        await WaitUntilAsync(async () => (await MembersAsync()).Count == 1, TimeSpan.FromSeconds(30));

        Assert.Equal(["other http://10.0.0.9:2379", $"default {Kb.Endpoint}"], listed.Select(m => $"{m.Name} {string.Join(",", m.ClientURLs)}"));
        Assert.Equal(42UL, listed[0].ID);
        Assert.Equal("default", Assert.Single(await MembersAsync()).Name);
    }

    [Fact]
    public async Task AnUnregisteredFrontendDisappearsAtOnce_AndTheOneAskedIsAlwaysListed()
    {
        await Registry.RegisterAsync(new FrontendMember("leaving", 7, ["http://10.0.0.7:2379"]), TimeSpan.FromMinutes(1));
        Assert.Equal(2, (await MembersAsync()).Count);

        await Registry.UnregisterAsync(7);
        var self = (await MembersAsync()).Single();
        await Registry.UnregisterAsync(self.ID);

        Assert.Equal(self, Assert.Single(await MembersAsync()));
        var status = await new Rpc.Maintenance.MaintenanceClient(Kb.Channel).StatusAsync(new Rpc.StatusRequest());
        Assert.Equal(self.ID, status.Header.MemberId);
    }

    private async Task<IReadOnlyList<Rpc.Member>> MembersAsync() =>
        (await new Rpc.Cluster.ClusterClient(Kb.Channel).MemberListAsync(new Rpc.MemberListRequest())).Members;

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold in time");
            await Task.Delay(100);
        }
    }
}

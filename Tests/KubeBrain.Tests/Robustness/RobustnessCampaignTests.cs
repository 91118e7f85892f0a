using Xunit;
using Xunit.Abstractions;

namespace KubeBrain.Tests.Robustness;

/// <summary>
/// The campaign runs alone, after the tests that run in parallel: its faults and its failover times are about the
/// system under test, not about the rest of the suite competing for the machine.
/// </summary>
[CollectionDefinition(nameof(RobustnessCampaign), DisableParallelization = true)]
public sealed class RobustnessCampaign;

/// <summary>
/// The robustness campaign in CI: each fault with fixed seeds, alternating the traffic profiles, and one run from
/// a fresh seed that the output prints with the command that repeats it. A failing run saves its whole history
/// (see docs/correctness.md). <c>scripts/campaign.sh</c> runs longer campaigns.
/// </summary>
[Collection(nameof(RobustnessCampaign))]
public sealed class RobustnessCampaignTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Traffic = TimeSpan.FromSeconds(12);

    public static TheoryData<int, string, string> Fixed => new()
    {
        { 101, "kubernetes", "kill-silo" },
        { 102, "random", "kill-frontend" },
        { 103, "kubernetes", "restart-postgres" },
        { 104, "random", "cut-postgres" },
        { 105, "kubernetes", "pause-silo" },
        { 106, "random", "deactivate-grains" },
        { 107, "kubernetes", "store-faults" },
    };

    [Theory]
    [MemberData(nameof(Fixed))]
    public Task FixedSeed(int seed, string profile, string fault) => RunAsync(new CampaignSettings(seed, profile, fault, Traffic));

    [Fact]
    public Task FreshSeed() => RunAsync(CampaignSettings.FromEnvironment(Traffic));

    private async Task RunAsync(CampaignSettings settings)
    {
        output.WriteLine($"campaign {settings.Name}; to run it again: {settings.Reproduce}");
        var report = await Campaign.RunAsync(settings, output.WriteLine);
        output.WriteLine(report.Summary);
        Assert.True(
            report.Problems.Count == 0,
            $"{report.Summary}\n{string.Join("\n", report.Problems)}\nhistory saved to {report.SavedTo}\nto run it again: {settings.Reproduce}");
    }
}

using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using KubeBrain.Tests.Infrastructure;
using KubeBrain.Tests.Watch;
using Mvcc = KubeBrain.Protos.Mvccpb;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Robustness;

/// <summary>One campaign run: a traffic profile, a fault, a seed and how long the traffic lasts.</summary>
public sealed record CampaignSettings(int Seed, string Profile, string Fault, TimeSpan Duration, int Clients = 6)
{
    public const string SeedVariable = "KUBEBRAIN_CAMPAIGN_SEED";
    public const string ProfileVariable = "KUBEBRAIN_CAMPAIGN_PROFILE";
    public const string FaultVariable = "KUBEBRAIN_CAMPAIGN_FAULT";
    public const string SecondsVariable = "KUBEBRAIN_CAMPAIGN_SECONDS";

    public string Name => string.Create(CultureInfo.InvariantCulture, $"{Profile}-{Fault}-seed{Seed}");

    /// <summary>The one command that runs this campaign again.</summary>
    public string Reproduce => string.Create(
        CultureInfo.InvariantCulture,
        $"{SeedVariable}={Seed} {ProfileVariable}={Profile} {FaultVariable}={Fault} {SecondsVariable}={Duration.TotalSeconds} {TestCommand}");

    private const string TestCommand = "dotnet test Tests/KubeBrain.Tests -c Release --filter FullyQualifiedName~RobustnessCampaignTests.FreshSeed";

    /// <summary>
    /// The campaign the environment asks for, or one from a fresh seed (the profile and fault then follow from the
    /// seed) lasting <paramref name="duration"/>.
    /// </summary>
    public static CampaignSettings FromEnvironment(TimeSpan duration)
    {
        var seed = Environment.GetEnvironmentVariable(SeedVariable) is { Length: > 0 } s ? int.Parse(s, CultureInfo.InvariantCulture) : Random.Shared.Next(1, int.MaxValue);
        var choice = new Random(seed);
        var profile = Environment.GetEnvironmentVariable(ProfileVariable) is { Length: > 0 } p ? p : TrafficProfiles.All[choice.Next(TrafficProfiles.All.Count)].Name;
        var fault = Environment.GetEnvironmentVariable(FaultVariable) is { Length: > 0 } f ? f : CampaignSystem.Faults[choice.Next(CampaignSystem.Faults.Count)];
        var seconds = Environment.GetEnvironmentVariable(SecondsVariable) is { Length: > 0 } d ? double.Parse(d, CultureInfo.InvariantCulture) : duration.TotalSeconds;
        return new CampaignSettings(seed, profile, fault, TimeSpan.FromSeconds(seconds));
    }
}

/// <summary>What a campaign run did and every problem its checkers found; <see cref="SavedTo"/> holds the history of a failed run.</summary>
public sealed record CampaignReport(CampaignSettings Settings, string Summary, IReadOnlyList<string> Problems, string? SavedTo);

/// <summary>
/// Runs a campaign: clients of a traffic profile spread over the system's endpoints, resumable watches (one over
/// the whole key space, the run's ground truth, and three over parts of it), and the fault injected again and
/// again while the traffic lasts. Then everything is healed, the final state read, and the history checked:
/// linearizability of every KV and lease request against the etcd model replayed along the ground truth (dense
/// revisions, each explained by exactly one request, every acknowledged write present), and etcd's watch guarantees
/// for every stream of every watch.
/// </summary>
public static class Campaign
{
    private const string Prefix = "/robustness";
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(90);
    private static readonly ByteString Everything = ByteString.CopyFrom(0);

    public static async Task<CampaignReport> RunAsync(CampaignSettings settings, Action<string> log)
    {
        var random = new Random(settings.Seed);
        await using var system = await CampaignSystem.StartForAsync(settings.Fault);
        var endpoints = system.Endpoints;
        var start = await endpoints[0].Kv.RangeAsync(new Rpc.RangeRequest { Key = Everything, RangeEnd = Everything });
        var initial = start.Kvs.ToDictionary(kv => kv.Key);
        var first = start.Header.Revision + 1;

        using var stopWatches = new CancellationTokenSource();
        var watches = new List<ResumableWatch> { new(endpoints, 0, Everything, Everything, prevKv: true, first) };
        foreach (var part in new[] { "/pods/", "/events/", "/k" })
        {
            var key = Etcd.Bytes(Prefix + part);
            watches.Add(new ResumableWatch(endpoints, random.Next(endpoints.Count), key, Etcd.PrefixEnd(Prefix + part), random.Next(2) == 0, first));
        }
        var watching = watches.Select(w => w.RunAsync(stopWatches.Token)).ToList();

        var recorder = new HistoryRecorder();
        var profile = TrafficProfiles.ByName(settings.Profile, compactionCeiling: () => watches.Min(w => w.Next) - 1);
        using var stopTraffic = new CancellationTokenSource(settings.Duration);
        var clients = Enumerable.Range(0, settings.Clients)
            .Select(i => profile.RunAsync(new TrafficClient(i, new Random(random.Next()), recorder, endpoints, Prefix + "/"), stopTraffic.Token))
            .ToList();
        var faults = await InjectFaultsAsync(system, settings.Fault, new Random(random.Next()), stopTraffic.Token, log);
        await Task.WhenAll(clients);
        await system.HealAsync();
        foreach (var note in system.Notes)
        {
            log(note);
        }

        var problems = new List<string>();
        var final = await ReadFinalStateAsync(new TrafficClient(settings.Clients, new Random(0), recorder, endpoints, Prefix + "/"));
        if (final is null)
        {
            await stopWatches.CancelAsync();
            await Task.WhenAll(watching);
            problems.Add($"no endpoint answered a range in the {Settle.TotalSeconds:F0} s after the faults were healed");
            return Report(settings, $"{settings.Name}: unavailable after healing", problems, recorder.Operations, watches, system);
        }
        var last = final.Header.Revision;
        foreach (var watch in watches)
        {
            try
            {
                await watch.WaitDeliveredAsync(last, Settle);
            }
            catch (TimeoutException e)
            {
                problems.Add(e.Message);
            }
        }
        await stopWatches.CancelAsync();
        await Task.WhenAll(watching);

        var truth = WatchHistory.Of(
            first,
            last,
            watches[0].Events.Where(e => e.Kv.ModRevision <= last).Select(e => new HistoryEvent(e.Kv.ModRevision, e.Type == Mvcc.Event.Types.EventType.Delete, e.Kv, e.PrevKv)));
        var operations = recorder.Operations;
        problems.AddRange(LinearizabilityChecker.Check(operations, truth, initial));
        var validator = new WatchGuaranteeValidator(truth);
        foreach (var watch in watches)
        {
            foreach (var segment in watch.Segments.Where(s => s.Log.Any(r => r.Created)))
            {
                problems.AddRange(validator.Validate([UpTo(segment.Log, last)], [segment.Watcher]).Select(p => $"{watch.Describe} on {segment.Endpoint}: {p}"));
            }
        }

        var (ok, refused, unknown) = (operations.Count(o => o.Outcome == Outcome.Ok), operations.Count(o => o.Outcome == Outcome.Failed), operations.Count(o => o.Outcome == Outcome.Unknown));
        var summary = string.Create(
            CultureInfo.InvariantCulture,
            $"{settings.Name}: revisions {first}..{last}, {operations.Count} requests ({ok} ok, {refused} refused, {unknown} unknown), {faults} faults, {watches.Sum(w => w.Segments.Count)} watch streams");
        return Report(settings, summary, problems, operations, watches, system);
    }

    private static CampaignReport Report(
        CampaignSettings settings, string summary, List<string> problems, IReadOnlyList<Operation> operations, List<ResumableWatch> watches, CampaignSystem system)
    {
        var saved = problems.Count == 0 ? null : Save(settings, summary, problems, operations, watches, system);
        return new CampaignReport(settings, summary, problems, saved);
    }

    /// <summary>
    /// A stream's responses as far as the checked history goes: leases expire and writes whose outcome was unknown
    /// may commit after the final read, so what comes after its revision is not checked.
    /// </summary>
    private static List<Rpc.WatchResponse> UpTo(IReadOnlyList<Rpc.WatchResponse> log, long last)
    {
        var kept = new List<Rpc.WatchResponse>();
        foreach (var response in log)
        {
            if (response.Events.Count == 0)
            {
                if (response.Header.Revision <= last || response.Created || response.Canceled)
                {
                    kept.Add(response);
                }
                continue;
            }
            var within = response.Events.Where(e => e.Kv.ModRevision <= last).ToList();
            if (within.Count == 0)
            {
                break;
            }
            var trimmed = response.Clone();
            trimmed.Events.Clear();
            trimmed.Events.AddRange(within);
            kept.Add(trimmed);
            if (within.Count < response.Events.Count)
            {
                break;
            }
        }
        return kept;
    }

    /// <summary>Injects the fault again and again, a second or three apart, until the traffic stops; returns how many times.</summary>
    private static async Task<int> InjectFaultsAsync(CampaignSystem system, string fault, Random random, CancellationToken stop, Action<string> log)
    {
        var count = 0;
        while (true)
        {
            await Task.Delay(random.Next(1000, 3000), stop).ContinueWith(_ => { }, TaskScheduler.Default);
            if (stop.IsCancellationRequested)
            {
                return count;
            }
            count++;
            log($"{DateTime.UtcNow:HH:mm:ss.fff} fault {count}: {fault}");
            await system.InjectAsync(fault, random, stop);
        }
    }

    /// <summary>The whole key space at the end, read (and recorded) through whichever endpoint answers first; null if none does in time.</summary>
    private static async Task<Rpc.RangeResponse?> ReadFinalStateAsync(TrafficClient client)
    {
        var deadline = DateTime.UtcNow + Settle;
        while (DateTime.UtcNow < deadline)
        {
            if (await client.RangeAsync(new Rpc.RangeRequest { Key = Everything, RangeEnd = Everything }) is { } response)
            {
                return response;
            }
        }
        return null;
    }

    /// <summary>
    /// Writes the run's history as JSON lines — the settings and problems, every request, every watch stream — and
    /// beside it, in a directory of the same name, the output of every server process.
    /// </summary>
    private static string Save(CampaignSettings settings, string summary, List<string> problems, IReadOnlyList<Operation> operations, List<ResumableWatch> watches, CampaignSystem system)
    {
        var directory = Path.Combine(AppContext.BaseDirectory, "robustness-failures");
        var name = $"{settings.Name}-{DateTime.UtcNow:yyyyMMddHHmmss}";
        var logs = Directory.CreateDirectory(Path.Combine(directory, name));
        foreach (var (process, output) in system.ProcessOutputs)
        {
            File.WriteAllText(Path.Combine(logs.FullName, process + ".log"), output);
        }
        var path = Path.Combine(directory, name + ".jsonl");
        using var writer = new StreamWriter(path);
        writer.WriteLine(JsonSerializer.Serialize(new { settings.Seed, settings.Profile, settings.Fault, settings.Duration.TotalSeconds, summary, reproduce = settings.Reproduce, problems }));
        foreach (var op in operations.OrderBy(o => o.Invoke))
        {
            writer.WriteLine(JsonSerializer.Serialize(new
            {
                op.Id, op.Client, op.Frontend, op.Invoke, op.Return, outcome = op.Outcome.ToString(), op.Error,
                request = op.Request.Descriptor.Name, requestBody = JsonFormatter.Default.Format(op.Request),
                response = op.Response is null ? null : JsonFormatter.Default.Format(op.Response),
            }));
        }
        for (var w = 0; w < watches.Count; w++)
        {
            foreach (var segment in watches[w].Segments)
            {
                writer.WriteLine(JsonSerializer.Serialize(new
                {
                    watch = watches[w].Describe, segment.Endpoint, broken = segment.Watcher.Cancelled,
                    responses = segment.Log.Select(r => JsonFormatter.Default.Format(r)).ToList(),
                }));
            }
        }
        return path;
    }
}

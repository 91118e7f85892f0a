using System.Globalization;
using System.Text;
using System.Text.Json;

namespace KubeBrain.Benchmarks;

/// <summary>The result tables, and the JSON file.</summary>
public static class Report
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>One row per run: throughput and latency in milliseconds, then the workload's own metrics.</summary>
    public static string Runs(IReadOnlyList<RunResult> runs)
    {
        var rows = new List<string[]> { new[] { "workload", "target", "round", "requests", "errors", "seconds", "req/s", "mean ms", "min ms", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms" } };
        foreach (var run in runs)
        {
            rows.Add([run.Workload, run.Target, Number(run.Round), Number(run.Requests), Number(run.Errors), Fixed(run.Seconds, 2), Fixed(run.Throughput, 1), .. Latencies(run.Latency)]);
            foreach (var (name, latency) in run.OtherLatencies)
            {
                rows.Add([$"  {name}", "", "", Number(latency.Count), "", "", "", .. Latencies(latency)]);
            }
        }
        var text = new StringBuilder(Table(rows));
        foreach (var run in runs.Where(r => r.Metrics.Count > 0))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{run.Workload} {run.Target} round {run.Round}: {string.Join(", ", run.Metrics.Select(m => $"{m.Key}={Fixed(m.Value, m.Value % 1 == 0 ? 0 : 1)}"))}");
        }
        return text.ToString();
    }

    /// <summary>
    /// Both targets side by side, each over all its rounds, with the ratio that is higher when the first target is
    /// better: first/second for throughputs, second/first for latencies.
    /// </summary>
    public static (string Text, List<Comparison> Lines) Compare(string workload, IReadOnlyList<RunResult> runs, Target first, Target second)
    {
        var a = Combine(workload, runs.Where(r => r.Target == first.Name).ToList());
        var b = Combine(workload, runs.Where(r => r.Target == second.Name).ToList());
        var (la, lb) = (a.Latency, b.Latency);
        var forward = $"{first.Name}/{second.Name}";
        var backward = $"{second.Name}/{first.Name}";
        var lines = new List<Comparison>
        {
            new("req/s", a.Throughput, b.Throughput, Ratio(a.Throughput, b.Throughput), forward),
        };
        lines.AddRange(a.Metrics.Keys.Where(k => k.EndsWith("PerSecond", StringComparison.Ordinal) && b.Metrics.ContainsKey(k))
            .Select(k => new Comparison(k, a.Metrics[k], b.Metrics[k], Ratio(a.Metrics[k], b.Metrics[k]), forward)));
        foreach (var (name, pick) in new (string, Func<LatencySummary, double>)[]
        {
            ("mean ms", l => l.Mean), ("p50 ms", l => l.P50), ("p90 ms", l => l.P90), ("p99 ms", l => l.P99), ("p99.9 ms", l => l.P999), ("max ms", l => l.Max),
        })
        {
            lines.Add(new Comparison(name, pick(la) / 1000, pick(lb) / 1000, Ratio(pick(lb), pick(la)), backward));
        }
        var rows = new List<string[]> { new[] { "metric", first.Name, second.Name, "ratio", "as" } };
        rows.AddRange(lines.Select(l => new[] { l.Metric, Fixed(l.First, 3), Fixed(l.Second, 3), Fixed(l.Ratio, 2) + "x", l.As }));
        var header = $"{workload}: {first.Name} vs {second.Name}, {a.Round} round(s) each; ratio above 1 favours {first.Name}\n";
        return (header + Table(rows), lines);
    }

    public static async Task WriteJsonAsync(string file, object document) =>
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(document, Json));

    private static RunResult Combine(string workload, List<RunResult> runs)
    {
        var latency = new Histogram();
        foreach (var run in runs)
        {
            latency.Add(run.LatencyHistogram);
        }
        var seconds = runs.Sum(r => r.Seconds);
        return new RunResult
        {
            Workload = workload,
            Round = runs.Count,
            Requests = runs.Sum(r => r.Requests),
            Errors = runs.Sum(r => r.Errors),
            Seconds = seconds,
            LatencyHistogram = latency,
            Metrics = runs.SelectMany(r => r.Metrics).GroupBy(m => m.Key).ToDictionary(g => g.Key, g => g.Average(m => m.Value)),
        };
    }

    private static double Ratio(double over, double under) => under > 0 ? over / under : 0;

    private static string[] Latencies(LatencySummary l) =>
        [.. new[] { l.Mean, l.Min, l.P50, l.P90, l.P99, l.P999, l.Max }.Select(us => Fixed(us / 1000, 3))];

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Fixed(double value, int decimals) => value.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private static string Table(List<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        var text = new StringBuilder();
        foreach (var row in rows)
        {
            text.AppendLine(string.Join("  ", row.Select((cell, c) => c == 0 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))).TrimEnd());
        }
        return text.ToString();
    }
}

/// <summary>One line of a comparison: a metric for both targets and the ratio, computed as <see cref="As"/>.</summary>
public sealed record Comparison(string Metric, double First, double Second, double Ratio, string As);

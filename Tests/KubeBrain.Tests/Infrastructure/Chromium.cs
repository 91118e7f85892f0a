using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit;

namespace KubeBrain.Tests.Infrastructure;

/// <summary>
/// Debian's headless Chromium, for what only a browser shows (a page that renders itself from its data). Outside CI
/// a machine without it skips these tests; in CI (<c>CI=true</c>) they fail, since the test command installs it.
/// </summary>
public static partial class Chromium
{
    /// <summary>Why the tests that need Chromium are skipped here, or null when they run.</summary>
    public static string? SkipReason =>
        Executable is not null || Environment.GetEnvironmentVariable("CI") == "true"
            ? null
            : "chromium is not installed: run the README test command (it installs chromium) or apt-get install -y chromium";

    /// <summary>The chromium binary on the PATH, or null.</summary>
    public static string? Executable { get; } = (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => Path.Combine(dir, "chromium"))
        .FirstOrDefault(File.Exists);

    /// <summary>
    /// Loads <paramref name="url"/> headless, lets its scripts run for <paramref name="budget"/> of virtual time
    /// (timers fire without waiting) and answers the text of the DOM they left: tags, scripts and styles removed.
    /// </summary>
    public static async Task<string> RenderedTextAsync(string url, TimeSpan budget)
    {
        var executable = Executable ?? throw new InvalidOperationException(
            "chromium is not installed: run the README test command (it installs chromium) or apt-get install -y chromium");
        var profile = Directory.CreateTempSubdirectory("kubebrain-chromium-");
        try
        {
            var start = new ProcessStartInfo(executable)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                ArgumentList =
                {
                    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", $"--user-data-dir={profile.FullName}",
                    $"--virtual-time-budget={(int)budget.TotalMilliseconds}", "--dump-dom", url,
                },
            };
            using var process = Process.Start(start) ?? throw new InvalidOperationException("chromium did not start");
            var dom = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"chromium did not finish loading {url} within 30 s");
            }
            Assert.True(process.ExitCode == 0, $"chromium exited with {process.ExitCode}: {await errors}");
            return Text(await dom);
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }

    private static string Text(string html)
    {
        var text = ScriptOrStyle().Replace(html, " ");
        text = Tag().Replace(text, " ");
        return Space().Replace(System.Net.WebUtility.HtmlDecode(text), " ").Trim();
    }

    [GeneratedRegex(@"<(script|style)\b.*?</\1>", RegexOptions.Singleline | RegexOptions.IgnoreCase)]
    private static partial Regex ScriptOrStyle();

    [GeneratedRegex(@"<[^>]+>")]
    private static partial Regex Tag();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Space();
}

/// <summary>A fact that needs Chromium: skipped outside CI where it is missing (see <see cref="Chromium.SkipReason"/>).</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (Chromium.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}

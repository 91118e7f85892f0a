using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace KubeBrain.EtcdFrontend.Telemetry;

/// <summary>
/// The process series of Prometheus's client libraries (<c>process_resident_memory_bytes</c> and its companions) in
/// the text exposition format, as etcd's client port serves them on <c>GET /metrics</c>. <c>etcdctl check
/// datascale</c> reads <c>process_resident_memory_bytes</c> there, from the first of its <c>--endpoints</c>.
/// </summary>
public static class ProcessMetrics
{
    /// <summary>The text exposition format's content type.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>The series, one sample each, with their HELP and TYPE lines.</summary>
    public static string Text()
    {
        using var process = Process.GetCurrentProcess();
        var text = new StringBuilder();
        void Series(string name, string type, string help, double value) => text
            .Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
            .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n')
            .Append(name).Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        Series("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", process.TotalProcessorTime.TotalSeconds);
        Series("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", process.WorkingSet64);
        Series("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", process.VirtualMemorySize64);
        Series("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
            new DateTimeOffset(process.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0);
        return text.ToString();
    }

    /// <summary>Answers a request with <see cref="Text"/>.</summary>
    public static Task WriteAsync(HttpContext context)
    {
        context.Response.ContentType = ContentType;
        return context.Response.WriteAsync(Text(), context.RequestAborted);
    }
}

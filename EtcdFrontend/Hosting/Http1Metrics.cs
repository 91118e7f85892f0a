using System.Buffers;
using System.Text;
using KubeBrain.EtcdFrontend.Telemetry;
using Microsoft.AspNetCore.Connections;

namespace KubeBrain.EtcdFrontend.Hosting;

/// <summary>
/// Answers HTTP/1.1 <c>GET</c> on a cleartext client port, which otherwise speaks only HTTP/2 with prior knowledge
/// (gRPC): <c>GET /metrics</c> gets the process series (<see cref="ProcessMetrics"/>), as from etcd's client port,
/// where <c>etcdctl check datascale</c> reads them with a plain HTTP/1.1 request; any other path gets 404. A connection
/// is told apart by its first byte: HTTP/2's preface starts with <c>P</c>, a GET with <c>G</c>. Each such connection
/// answers one request and is closed.
/// </summary>
internal static class Http1Metrics
{
    private const int MaxRequestBytes = 16 * 1024;
    private static readonly byte[] HeadersEnd = "\r\n\r\n"u8.ToArray();

    /// <summary>The connection middleware: HTTP/1.1 GETs are answered here, everything else goes on to Kestrel.</summary>
    public static async Task ServeAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        var input = connection.Transport.Input;
        var first = await input.ReadAsync(connection.ConnectionClosed);
        var isGet = first.Buffer.Length > 0 && first.Buffer.FirstSpan[0] == (byte)'G';
        input.AdvanceTo(first.Buffer.Start);
        if (!isGet)
        {
            await next(connection);
            return;
        }
        var path = await ReadRequestPathAsync(input, connection.ConnectionClosed);
        var (status, body) = path == MetricsEndpoints.Path
            ? ("200 OK", ProcessMetrics.Text())
            : path is null ? ("400 Bad Request", "") : ("404 Not Found", "");
        var bytes = Encoding.UTF8.GetBytes(body);
        var head = $"HTTP/1.1 {status}\r\nContent-Type: {ProcessMetrics.ContentType}\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n\r\n";
        await connection.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes(head), connection.ConnectionClosed);
        await connection.Transport.Output.WriteAsync(bytes, connection.ConnectionClosed);
        await connection.Transport.Output.CompleteAsync();
    }

    /// <summary>Reads a request's head; answers its path without the query, or null if it is not an HTTP/1.x GET.</summary>
    private static async Task<string?> ReadRequestPathAsync(System.IO.Pipelines.PipeReader input, CancellationToken cancellation)
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellation);
            var buffer = result.Buffer;
            var reader = new SequenceReader<byte>(buffer);
            if (reader.TryReadTo(out ReadOnlySequence<byte> head, HeadersEnd))
            {
                var line = Encoding.ASCII.GetString(head).Split("\r\n")[0].Split(' ');
                input.AdvanceTo(reader.Position);
                return line.Length == 3 && line[0] == "GET" && line[2].StartsWith("HTTP/1.", StringComparison.Ordinal)
                    ? line[1].Split('?')[0]
                    : null;
            }
            if (result.IsCompleted || buffer.Length > MaxRequestBytes)
            {
                input.AdvanceTo(buffer.End);
                return null;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}

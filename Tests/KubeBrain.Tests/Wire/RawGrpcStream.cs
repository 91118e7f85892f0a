using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Threading.Channels;
using Google.Protobuf;
using Grpc.Core;
using KubeBrain.Tests.Infrastructure;

namespace KubeBrain.Tests.Wire;

/// <summary>
/// A streaming gRPC call spoken by hand over HTTP/2 without TLS, for what a gRPC library never sends: the test cuts
/// the request's bytes into writes of its choosing (each flushed in DATA frames of its own), and reads the answers'
/// messages and the call's status code as they come.
/// </summary>
public sealed class RawGrpcStream : IAsyncDisposable
{
    private const int HeaderBytes = 5;

    private readonly HttpClient _http = H2c.Client();
    private readonly CancellationTokenSource _deadline = new(WireTarget.CallDeadline);
    private readonly Channel<byte[]> _writes = Channel.CreateUnbounded<byte[]>();
    private readonly Task<HttpResponseMessage> _response;
    private Stream? _answers;

    /// <param name="endpoint">http://host:port.</param>
    /// <param name="method">The method's path, as /package.Service/Method.</param>
    /// <param name="headers">Request headers beyond gRPC's own.</param>
    public RawGrpcStream(string endpoint, string method, IEnumerable<(string Name, string Value)>? headers = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, endpoint + method)
        {
            Version = _http.DefaultRequestVersion,
            VersionPolicy = _http.DefaultVersionPolicy,
            Content = new WritesContent(_writes.Reader),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        foreach (var (name, value) in headers ?? [])
        {
            request.Headers.Add(name, value);
        }
        _response = _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, _deadline.Token);
    }

    /// <summary>A message as gRPC frames it: a compressed flag, the length in four bytes big-endian, the bytes.</summary>
    public static byte[] Frame(ReadOnlySpan<byte> message, bool compressed = false, uint? length = null)
    {
        var frame = new byte[HeaderBytes + message.Length];
        frame[0] = compressed ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), length ?? (uint)message.Length);
        message.CopyTo(frame.AsSpan(HeaderBytes));
        return frame;
    }

    public static byte[] Frame(IMessage message) => Frame(message.ToByteArray());

    /// <summary>Sends <paramref name="bytes"/> as one write of the request body.</summary>
    public void Write(params byte[][] bytes) => _writes.Writer.TryWrite([.. bytes.SelectMany(b => b)]);

    /// <summary>Ends the request stream (END_STREAM).</summary>
    public void Complete() => _writes.Writer.Complete();

    /// <summary>The next answer, or null once the server ended its side; every read fails once the call's deadline passed.</summary>
    public async Task<T?> ReadAsync<T>(MessageParser<T> parser)
        where T : IMessage<T>
    {
        var answers = _answers ??= await (await ResponseAsync()).Content.ReadAsStreamAsync(_deadline.Token);
        var header = new byte[HeaderBytes];
        switch (await answers.ReadAtLeastAsync(header, HeaderBytes, throwOnEndOfStream: false, _deadline.Token))
        {
            case 0:
                return default;
            case < HeaderBytes:
                throw new EndOfStreamException("the answers ended inside a message's header");
        }
        var message = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1))];
        await answers.ReadExactlyAsync(message, _deadline.Token);
        return parser.ParseFrom(message);
    }

    /// <summary>The call's status code, once every answer was read: from the trailers, or the headers of an answer without a body.</summary>
    public async Task<StatusCode> StatusCodeAsync()
    {
        var response = await ResponseAsync();
        var fields = response.TrailingHeaders.Contains("grpc-status") ? response.TrailingHeaders : response.Headers;
        return (StatusCode)int.Parse(fields.GetValues("grpc-status").Single(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        _writes.Writer.TryComplete();
        if (_response.IsCompletedSuccessfully)
        {
            (await _response).Dispose();
        }
        _http.Dispose();
        _deadline.Dispose();
    }

    private async Task<HttpResponseMessage> ResponseAsync()
    {
        var response = await _response;
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new HttpRequestException($"the call was answered {(int)response.StatusCode}");
        }
        return response;
    }

    /// <summary>A request body written as the test hands it bytes, each write flushed.</summary>
    private sealed class WritesContent(ChannelReader<byte[]> writes) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await foreach (var bytes in writes.ReadAllAsync())
            {
                await stream.WriteAsync(bytes);
                await stream.FlushAsync();
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}

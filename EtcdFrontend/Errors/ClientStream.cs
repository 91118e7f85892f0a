using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Google.Protobuf;
using Grpc.Core;

namespace KubeBrain.EtcdFrontend.Errors;

/// <summary>
/// Reads a client's request stream without turning its departure into exceptions. A client that opens a stream per
/// request (etcd's <c>KeepAliveOnce</c>) resets it after each answer, and the reset fails the pending read of the
/// request body. Read through gRPC's reader, that failure is thrown again at each of its awaits, which cost more than
/// the request itself; read here, it is seen without being thrown. So a plain message (uncompressed, within
/// <c>maxMessageSize</c>, whole in what has arrived) is taken straight off the HTTP/2 request body, and anything else
/// (a compressed message, one over the limit, one not whole yet or cut short) is left in the body for gRPC's own
/// reader, which answers it as it always does. Messages taken here skip gRPC's own count and logs of received messages.
/// </summary>
internal sealed class ClientStream<T>(ServerCallContext context, IAsyncStreamReader<T> requests, MessageParser<T> parser, int maxMessageSize)
    where T : class, IMessage<T>
{
    private const int HeaderBytes = 5;

    private readonly PipeReader _body = context.GetHttpContext().Request.BodyReader;

    /// <summary>The client's next request, or null once it closed its side, reset the stream or went away.</summary>
    public async Task<T?> NextAsync(CancellationToken cancellationToken)
    {
        ValueTask<ReadResult> read;
        try
        {
            read = _body.ReadAsync(cancellationToken);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // The stream was over before this read began.
            return null;
        }
        if (!read.IsCompleted)
        {
            await new Settled(read);
        }
        if (!read.IsCompletedSuccessfully)
        {
            // Kestrel fails or cancels a pending body read only when the stream is over for this call: reset by the
            // client, its connection dropped, or the call cancelled. Not taking the result keeps it unthrown.
            return null;
        }
        var result = read.Result;
        var buffer = result.Buffer;
        if (TryTakePlainMessage(buffer, out var message))
        {
            try
            {
                return parser.ParseFrom(message);
            }
            finally
            {
                _body.AdvanceTo(message.End);
            }
        }
        if (buffer.IsEmpty && result.IsCompleted)
        {
            _body.AdvanceTo(buffer.End);
            return null;
        }
        _body.AdvanceTo(buffer.Start);
        return await requests.MoveNext(cancellationToken) ? requests.Current : null;
    }

    private bool TryTakePlainMessage(ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> message)
    {
        message = default;
        if (buffer.Length < HeaderBytes)
        {
            return false;
        }
        Span<byte> header = stackalloc byte[HeaderBytes];
        buffer.Slice(0, HeaderBytes).CopyTo(header);
        var length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (header[0] != 0 || length > maxMessageSize || buffer.Length - HeaderBytes < length)
        {
            return false;
        }
        message = buffer.Slice(HeaderBytes, length);
        return true;
    }

    /// <summary>Awaits a read's completion without taking its result, so that a failed read is not thrown.</summary>
    private readonly struct Settled(ValueTask<ReadResult> read) : ICriticalNotifyCompletion
    {
        public Settled GetAwaiter() => this;

        public bool IsCompleted => read.IsCompleted;

        public void GetResult()
        {
        }

        public void OnCompleted(Action continuation) => read.ConfigureAwait(false).GetAwaiter().OnCompleted(continuation);

        public void UnsafeOnCompleted(Action continuation) => read.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(continuation);
    }
}

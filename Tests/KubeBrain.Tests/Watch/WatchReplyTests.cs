using System.Buffers;
using Google.Protobuf;
using Grpc.Core;
using KubeBrain.EtcdFrontend.Watch;
using Xunit;
using Mvcc = KubeBrain.Protos.Mvccpb;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Watch;

/// <summary>
/// A <see cref="WatchReply"/> is written by hand from encoded events; its bytes must be exactly what a client reads
/// as etcd's WatchResponse, whatever the events' sizes (the writer fills 4 KiB chunks) and the optional fields. The
/// output hands out buffers no larger than asked for, the least a gRPC buffer writer promises.
/// </summary>
public sealed class WatchReplyTests
{
    private static readonly Rpc.ResponseHeader Header = new() { ClusterId = 11, MemberId = 22, Revision = 1234567, RaftTerm = 1 };

    [Theory]
    [InlineData(0L, false, new[] { 10 })]
    [InlineData(7L, false, new[] { 10, 20, 30 })]
    [InlineData(300L, true, new[] { 5000 })]
    [InlineData(1L << 40, false, new[] { 4000, 100, 9000, 0, 70000 })]
    [InlineData(3L, true, new int[0])]
    public void EventsReply_ReadsBackAsTheWatchResponseItStandsFor(long watchId, bool fragment, int[] valueSizes)
    {
        var events = valueSizes.Select((size, i) => new Mvcc.Event
        {
            Type = i % 2 == 0 ? Mvcc.Event.Types.EventType.Put : Mvcc.Event.Types.EventType.Delete,
            Kv = new Mvcc.KeyValue { Key = ByteString.CopyFromUtf8($"/registry/pods/ns/p{i}"), Value = ByteString.CopyFrom(new byte[size]), ModRevision = i + 1 },
        }).ToList();
        var encoded = events.Select(e => (ReadOnlyMemory<byte>)e.ToByteArray()).ToList();
        var reply = WatchReply.Events(new EncodedHeader(Header), watchId, fragment);
        reply.Add(encoded, encoded.Sum(WatchReply.SizeOf));

        var bytes = Serialize(reply);

        var expected = new Rpc.WatchResponse { Header = Header, WatchId = watchId, Fragment = fragment };
        expected.Events.AddRange(events);
        Assert.Equal(expected.CalculateSize(), reply.Size);
        Assert.Equal(expected, Rpc.WatchResponse.Parser.ParseFrom(bytes));
        Assert.Equal(expected.ToByteArray(), bytes);
    }

    [Fact]
    public void ControlReply_IsTheResponseItself()
    {
        var control = new Rpc.WatchResponse { Header = Header, WatchId = 5, Canceled = true, CompactRevision = 9, CancelReason = "compacted" };

        var bytes = Serialize(WatchReply.For(control));

        Assert.Equal(control.ToByteArray(), bytes);
    }

    private static byte[] Serialize(WatchReply reply)
    {
        var context = new StingyContext();
        WatchReply.Marshaller.ContextualSerializer(reply, context);
        Assert.True(context.Completed);
        Assert.Equal(context.PayloadLength, context.Written.Count);
        return [.. context.Written];
    }

    /// <summary>A serialization context whose buffers are exactly the size asked for.</summary>
    private sealed class StingyContext : SerializationContext, IBufferWriter<byte>
    {
        private byte[] _buffer = [];

        public List<byte> Written { get; } = [];

        public int PayloadLength { get; private set; } = -1;

        public bool Completed { get; private set; }

        public override void SetPayloadLength(int payloadLength) => PayloadLength = payloadLength;

        public override IBufferWriter<byte> GetBufferWriter() => this;

        public override void Complete() => Completed = true;

        public void Advance(int count) => Written.AddRange(_buffer.AsSpan(0, count));

        public Memory<byte> GetMemory(int sizeHint = 0) => _buffer = new byte[Math.Max(sizeHint, 1)];

        public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
    }
}

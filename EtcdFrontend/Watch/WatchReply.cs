using System.Buffers;
using Google.Protobuf;
using Grpc.Core;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.EtcdFrontend.Watch;

/// <summary>
/// One response on a Watch stream as it goes on the wire: a control response (created, canceled, progress), or a
/// watcher's events. Events travel already encoded — each revision's events are encoded once and the same bytes
/// go to every watcher that gets them — so a response is written by copying bytes, and fanning a revision out to
/// a thousand watchers serializes it once instead of a thousand times. The bytes are etcd's <c>WatchResponse</c>:
/// <c>header</c> (1), <c>watch_id</c> (2), <c>fragment</c> (7) and each event as <c>events</c> (11).
/// </summary>
internal sealed class WatchReply
{
    private const byte HeaderTag = (1 << 3) | 2;
    private const byte WatchIdTag = 2 << 3;
    private const byte FragmentTag = 7 << 3;
    private const byte EventTag = (11 << 3) | 2;

    private readonly Rpc.WatchResponse? _control;
    private readonly List<ReadOnlyMemory<byte>> _events = [];

    private WatchReply(Rpc.WatchResponse? control, EncodedHeader? header, long watchId, bool fragment)
    {
        _control = control;
        Header = header;
        WatchId = watchId;
        Fragment = fragment;
    }

    /// <summary>The header of an events response; when revisions are merged, the last one's.</summary>
    public EncodedHeader? Header { get; set; }

    public long WatchId { get; }

    public bool Fragment { get; private set; }

    /// <summary>The events so far.</summary>
    public int EventCount => _events.Count;

    /// <summary>The bytes of the events so far, as written.</summary>
    public int EventBytes { get; private set; }

    /// <summary>The whole response's size in bytes.</summary>
    public int Size => _control?.CalculateSize() ?? HeaderSize + WatchIdSize + (Fragment ? 2 : 0) + EventBytes;

    private int HeaderSize => 1 + CodedOutputStream.ComputeLengthSize(Header!.Bytes.Length) + Header.Bytes.Length;

    private int WatchIdSize => WatchId == 0 ? 0 : 1 + CodedOutputStream.ComputeInt64Size(WatchId);

    public static WatchReply For(Rpc.WatchResponse control) => new(control, null, control.WatchId, control.Fragment);

    public static WatchReply Events(EncodedHeader header, long watchId, bool fragment = false) => new(null, header, watchId, fragment);

    /// <summary>The bytes one encoded event takes in a response.</summary>
    public static int SizeOf(ReadOnlyMemory<byte> encodedEvent) =>
        1 + CodedOutputStream.ComputeLengthSize(encodedEvent.Length) + encodedEvent.Length;

    /// <summary>Adds a revision's events.</summary>
    public void Add(IReadOnlyList<ReadOnlyMemory<byte>> events, int bytes)
    {
        _events.AddRange(events);
        EventBytes += bytes;
    }

    public void Add(ReadOnlyMemory<byte> encodedEvent)
    {
        _events.Add(encodedEvent);
        EventBytes += SizeOf(encodedEvent);
    }

    /// <summary>Marks the last response of a fragmented revision.</summary>
    public void EndFragments() => Fragment = false;

    /// <summary>The gRPC marshaller of the Watch method's responses; the server never reads one.</summary>
    public static Marshaller<WatchReply> Marshaller { get; } = new(
        static (reply, context) =>
        {
            context.SetPayloadLength(reply.Size);
            reply.WriteTo(context.GetBufferWriter());
            context.Complete();
        },
        static _ => throw new NotSupportedException("A Watch response is never read by the server."));

    private void WriteTo(IBufferWriter<byte> output)
    {
        if (_control is not null)
        {
            _control.WriteTo(output);
            return;
        }
        var writer = new ChunkWriter(output, Size);
        writer.Byte(HeaderTag);
        writer.Varint((ulong)Header!.Bytes.Length);
        writer.Bytes(Header.Bytes);
        if (WatchId != 0)
        {
            writer.Byte(WatchIdTag);
            writer.Varint((ulong)WatchId);
        }
        if (Fragment)
        {
            writer.Byte(FragmentTag);
            writer.Byte(1);
        }
        foreach (var e in _events)
        {
            writer.Byte(EventTag);
            writer.Varint((ulong)e.Length);
            writer.Bytes(e.Span);
        }
        writer.Flush();
    }

    /// <summary>
    /// Fills the output's buffers a chunk at a time: taking a buffer from the response pipe and advancing it costs
    /// far more than the bytes written into it, so a response takes one buffer (one per 4 KiB when large) rather
    /// than one per field.
    /// </summary>
    private ref struct ChunkWriter(IBufferWriter<byte> output, int total)
    {
        private const int ChunkBytes = 4096;

        private Span<byte> _span;
        private int _used;
        private int _remaining = total;

        public void Byte(byte value)
        {
            Ensure(1);
            _span[_used++] = value;
        }

        public void Varint(ulong value)
        {
            Ensure(10);
            while (value >= 0x80)
            {
                _span[_used++] = (byte)(value | 0x80);
                value >>= 7;
            }
            _span[_used++] = (byte)value;
        }

        public void Bytes(ReadOnlySpan<byte> bytes)
        {
            while (!bytes.IsEmpty)
            {
                Ensure(1);
                var n = Math.Min(bytes.Length, _span.Length - _used);
                bytes[..n].CopyTo(_span[_used..]);
                _used += n;
                bytes = bytes[n..];
            }
        }

        public void Flush()
        {
            if (_used > 0)
            {
                output.Advance(_used);
                _remaining -= _used;
            }
            _span = default;
            _used = 0;
        }

        private void Ensure(int bytes)
        {
            if (_span.Length - _used < bytes)
            {
                Flush();
                _span = output.GetSpan(Math.Max(bytes, Math.Min(_remaining, ChunkBytes)));
            }
        }
    }
}

/// <summary>A response header and its encoding, made once per revision a stream speaks as of.</summary>
internal sealed class EncodedHeader(Rpc.ResponseHeader header)
{
    public Rpc.ResponseHeader Header { get; } = header;

    public byte[] Bytes { get; } = header.ToByteArray();

    public long Revision => Header.Revision;
}

using System.Collections;
using System.Globalization;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Rpc = KubeBrain.Protos.Etcdserverpb;

namespace KubeBrain.Tests.Differential;

/// <summary>
/// Protobuf messages as compact, complete text for comparing and for assertion messages: every field that is
/// set (non-default scalars, present sub-messages even when empty, the chosen oneof member even when default),
/// with bytes shown as escaped text rather than base64.
/// </summary>
public static class ProtoText
{
    private const int MaxBytesShown = 80;

    public static string Format(IMessage message)
    {
        var text = new StringBuilder();
        Append(text, message);
        return text.ToString();
    }

    /// <summary>
    /// A copy with the header fields that differ between any two etcd members (cluster_id, member_id, raft_term)
    /// cleared in every header, nested ones included.
    /// </summary>
    public static IMessage WithoutMemberFields(IMessage message)
    {
        var copy = message.Descriptor.Parser.ParseFrom(message.ToByteString());
        Clear(copy);
        return copy;
    }

    private static void Clear(IMessage message)
    {
        if (message is Rpc.ResponseHeader header)
        {
            header.ClusterId = 0;
            header.MemberId = 0;
            header.RaftTerm = 0;
            return;
        }
        foreach (var field in message.Descriptor.Fields.InFieldNumberOrder())
        {
            if (field.FieldType != FieldType.Message)
            {
                continue;
            }
            var value = field.Accessor.GetValue(message);
            if (field.IsRepeated)
            {
                foreach (var item in (IList)value)
                {
                    Clear((IMessage)item);
                }
            }
            else if (value is IMessage child)
            {
                Clear(child);
            }
        }
    }

    private static void Append(StringBuilder text, IMessage message)
    {
        text.Append('{');
        var first = true;
        foreach (var field in message.Descriptor.Fields.InFieldNumberOrder())
        {
            var value = field.Accessor.GetValue(message);
            if (field.IsRepeated)
            {
                var list = (IList)value;
                if (list.Count == 0)
                {
                    continue;
                }
                Separate(text, ref first).Append(field.Name).Append(": [");
                for (var i = 0; i < list.Count; i++)
                {
                    if (i > 0)
                    {
                        text.Append(", ");
                    }
                    AppendValue(text, list[i]);
                }
                text.Append(']');
                continue;
            }
            var chosen = field.RealContainingOneof is { } oneof && oneof.Accessor.GetCaseFieldDescriptor(message) == field;
            if (value is null || (!chosen && IsDefault(value)))
            {
                continue;
            }
            Separate(text, ref first).Append(field.Name).Append(": ");
            AppendValue(text, value);
        }
        text.Append('}');
    }

    private static StringBuilder Separate(StringBuilder text, ref bool first)
    {
        if (!first)
        {
            text.Append(", ");
        }
        first = false;
        return text;
    }

    private static void AppendValue(StringBuilder text, object? value)
    {
        switch (value)
        {
            case IMessage message:
                Append(text, message);
                break;
            case ByteString bytes:
                AppendBytes(text, bytes);
                break;
            case string s:
                text.Append('"').Append(s).Append('"');
                break;
            case bool b:
                text.Append(b ? "true" : "false");
                break;
            case IFormattable formattable:
                text.Append(formattable.ToString(null, CultureInfo.InvariantCulture));
                break;
            default:
                text.Append(value);
                break;
        }
    }

    private static void AppendBytes(StringBuilder text, ByteString bytes)
    {
        text.Append('"');
        var span = bytes.Span;
        foreach (var b in span.Length > MaxBytesShown ? span[..MaxBytesShown] : span)
        {
            if (b is >= 0x20 and < 0x7f and not (byte)'"' and not (byte)'\\')
            {
                text.Append((char)b);
            }
            else
            {
                text.Append(CultureInfo.InvariantCulture, $"\\x{b:x2}");
            }
        }
        text.Append('"');
        if (span.Length > MaxBytesShown)
        {
            text.Append(CultureInfo.InvariantCulture, $"...({span.Length} bytes)");
        }
    }

    private static bool IsDefault(object value) => value switch
    {
        bool b => !b,
        ByteString bytes => bytes.IsEmpty,
        string s => s.Length == 0,
        Enum e => Convert.ToInt64(e, CultureInfo.InvariantCulture) == 0,
        long l => l == 0,
        int i => i == 0,
        ulong u => u == 0,
        uint u => u == 0,
        double d => d == 0,
        float f => f == 0,
        _ => false,
    };
}

using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Rpc.Cli.Protobuf;

/// <summary>
/// Decodes a message's binary form into the JSON JsonFormatter.Default writes for the generated
/// class: fields in number order, lowerCamel names, defaults of fields without presence left out,
/// int64 as strings, bytes as base64, enums by name. Unknown fields are dropped, as JsonFormatter does.
/// </summary>
public static class ProtoToJson
{
    /// <summary>Decodes <paramref name="bytes"/> as a <paramref name="descriptor"/> message into JSON.</summary>
    /// <exception cref="InvalidProtocolBufferException">The bytes are not a valid message.</exception>
    public static string Format(MessageDescriptor descriptor, ReadOnlySpan<byte> bytes)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        WriteMessage(writer, descriptor, bytes.ToArray());
        return writer.ToString();
    }

    private static void WriteMessage(TextWriter writer, MessageDescriptor descriptor, byte[] bytes)
    {
        if (WellKnownTypes.Find(descriptor) is { } wellKnown)
        {
            writer.Write(JsonFormatter.Default.Format(wellKnown.Parser.ParseFrom(bytes)));
            return;
        }

        var fields = DecodedFields.Read(descriptor, bytes);
        var first = true;
        writer.Write('{');
        foreach (var field in descriptor.Fields.InFieldNumberOrder())
        {
            if (!fields.TryGetValue(field, out var value) || !ShouldWrite(field, value, fields))
            {
                continue;
            }

            writer.Write(first ? " " : ", ");
            first = false;
            JsonFormatter.Default.WriteValue(writer, field.JsonName);
            writer.Write(": ");
            WriteFieldValue(writer, field, value);
        }

        writer.Write(" }"); // JsonFormatter writes an empty message as "{ }".
    }

    private static bool ShouldWrite(FieldDescriptor field, object value, DecodedFields fields)
    {
        if (field.ContainingOneof is { } oneof && !oneof.IsSynthetic)
        {
            return fields.OneofCase(oneof) == field;
        }

        return value switch
        {
            List<object> list => list.Count > 0,
            MapEntries map => map.Count > 0,
            _ => field.HasPresence || !IsDefault(value),
        };
    }

#pragma warning disable S1244 // as the generated code: a field compares with its default exactly.
    private static bool IsDefault(object value) => value switch
    {
        int i => i == 0,
        long l => l == 0,
        uint u => u == 0,
        ulong u => u == 0,
        bool b => !b,
        double d => d == 0,
        float f => f == 0,
        string s => s.Length == 0,
        ByteString b => b.IsEmpty,
        _ => false,
    };
#pragma warning restore S1244

    private static void WriteFieldValue(TextWriter writer, FieldDescriptor field, object value)
    {
        if (value is MapEntries map)
        {
            var valueField = field.MessageType.FindFieldByNumber(2);
            var first = true;
            writer.Write('{');
            foreach (var (key, entry) in map.Entries)
            {
                writer.Write(first ? " " : ", ");
                first = false;
                JsonFormatter.Default.WriteValue(writer, key switch
                {
                    bool b => b ? "true" : "false",
                    IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                    _ => key.ToString()!,
                });
                writer.Write(": ");
                WriteSingle(writer, valueField, entry);
            }

            writer.Write(first ? "}" : " }");
            return;
        }

        if (value is List<object> list)
        {
            writer.Write('[');
            for (var i = 0; i < list.Count; i++)
            {
                writer.Write(i == 0 ? " " : ", ");
                WriteSingle(writer, field, list[i]);
            }

            writer.Write(list.Count == 0 ? "]" : " ]");
            return;
        }

        WriteSingle(writer, field, value);
    }

    private static void WriteSingle(TextWriter writer, FieldDescriptor field, object value)
    {
        switch (field.FieldType)
        {
            case FieldType.Message or FieldType.Group:
                WriteMessage(writer, field.MessageType, value is MessageBytes m ? m.Concatenated() : (byte[])value);
                break;
            case FieldType.Enum:
                var number = (int)value;
                if (field.EnumType.FullName == "google.protobuf.NullValue")
                {
                    writer.Write("null");
                }
                else if (field.EnumType.FindValueByNumber(number) is { } known)
                {
                    JsonFormatter.Default.WriteValue(writer, known.Name);
                }
                else
                {
                    JsonFormatter.Default.WriteValue(writer, number);
                }

                break;
            default:
                JsonFormatter.Default.WriteValue(writer, value);
                break;
        }
    }
}

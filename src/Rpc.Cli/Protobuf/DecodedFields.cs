using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Rpc.Cli.Protobuf;

/// <summary>A singular message field's occurrences on the wire: protobuf merges them, which for bytes is concatenation.</summary>
internal sealed class MessageBytes
{
    private readonly List<byte[]> _parts = [];

    public void Add(byte[] part) => _parts.Add(part);

    public byte[] Concatenated() => _parts.Count == 1 ? _parts[0] : _parts.SelectMany(p => p).ToArray();
}

/// <summary>A map field's entries in first-seen key order; a later entry for a key replaces its value, as MapField does.</summary>
internal sealed class MapEntries
{
    private readonly Dictionary<object, int> _index = [];

    public List<(object Key, object Value)> Entries { get; } = [];

    public int Count => Entries.Count;

    public void Set(object key, object value)
    {
        if (_index.TryGetValue(key, out var at))
        {
            Entries[at] = (key, value);
        }
        else
        {
            _index[key] = Entries.Count;
            Entries.Add((key, value));
        }
    }
}

/// <summary>One message's fields read off the wire with the generated class's merge rules.</summary>
internal sealed class DecodedFields : Dictionary<FieldDescriptor, object>
{
    private readonly Dictionary<OneofDescriptor, FieldDescriptor> _oneofCases = [];

    public FieldDescriptor? OneofCase(OneofDescriptor oneof) => _oneofCases.GetValueOrDefault(oneof);

    public static DecodedFields Read(MessageDescriptor descriptor, byte[] bytes)
    {
        var fields = new DecodedFields();
        var input = new CodedInputStream(bytes);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var field = descriptor.FindFieldByNumber(WireFormat.GetTagFieldNumber(tag));
            var wireType = WireFormat.GetTagWireType(tag);
            if (field is null || !Fits(field, wireType))
            {
                input.SkipLastField();
                continue;
            }

            if (field.IsMap)
            {
                var map = (MapEntries)(fields.TryGetValue(field, out var existing) ? existing : fields[field] = new MapEntries());
                var (key, value) = ReadMapEntry(field.MessageType, input.ReadBytes().ToByteArray());
                map.Set(key, value);
            }
            else if (field.IsRepeated)
            {
                var list = (List<object>)(fields.TryGetValue(field, out var existing) ? existing : fields[field] = new List<object>());
                if (wireType == WireFormat.WireType.LengthDelimited && IsPackable(field.FieldType))
                {
                    // Packed or not, a parser takes both forms (protobuf's rule), so unpacked senders decode too.
                    var packed = new CodedInputStream(input.ReadBytes().ToByteArray());
                    while (!packed.IsAtEnd)
                    {
                        list.Add(ReadScalar(packed, field.FieldType));
                    }
                }
                else
                {
                    list.Add(ReadOne(input, field));
                }
            }
            else if (field.FieldType == FieldType.Message)
            {
                // A message field seen again merges; a different oneof case seen in between starts afresh.
                if (!fields.TryGetValue(field, out var existing) || existing is not MessageBytes parts || (field.ContainingOneof is { } o && fields.OneofCase(o) != field))
                {
                    parts = new MessageBytes();
                    fields[field] = parts;
                }

                parts.Add(input.ReadBytes().ToByteArray());
            }
            else
            {
                fields[field] = ReadScalar(input, field.FieldType);
            }

            if (field.ContainingOneof is { } oneof)
            {
                fields._oneofCases[oneof] = field;
            }
        }

        return fields;
    }

    private static bool Fits(FieldDescriptor field, WireFormat.WireType wireType) =>
        wireType == JsonToProto.WireTypeOf(field.FieldType)
        || (field.IsRepeated && !field.IsMap && wireType == WireFormat.WireType.LengthDelimited && IsPackable(field.FieldType));

    private static bool IsPackable(FieldType type) => type is not (FieldType.String or FieldType.Bytes or FieldType.Message or FieldType.Group);

    private static (object Key, object Value) ReadMapEntry(MessageDescriptor entry, byte[] bytes)
    {
        var keyField = entry.FindFieldByNumber(1);
        var valueField = entry.FindFieldByNumber(2);
        object key = DefaultOf(keyField);
        object value = valueField.FieldType == FieldType.Message ? Array.Empty<byte>() : DefaultOf(valueField);
        var input = new CodedInputStream(bytes);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var number = WireFormat.GetTagFieldNumber(tag);
            if (number == 1 && Fits(keyField, WireFormat.GetTagWireType(tag)))
            {
                key = ReadScalar(input, keyField.FieldType);
            }
            else if (number == 2 && Fits(valueField, WireFormat.GetTagWireType(tag)))
            {
                value = ReadOne(input, valueField);
            }
            else
            {
                input.SkipLastField();
            }
        }

        return (key, value);
    }

    private static object ReadOne(CodedInputStream input, FieldDescriptor field) =>
        field.FieldType == FieldType.Message ? input.ReadBytes().ToByteArray() : ReadScalar(input, field.FieldType);

    private static object DefaultOf(FieldDescriptor field) => field.FieldType switch
    {
        FieldType.Double => 0d,
        FieldType.Float => 0f,
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => 0L,
        FieldType.UInt64 or FieldType.Fixed64 => 0UL,
        FieldType.UInt32 or FieldType.Fixed32 => 0U,
        FieldType.Bool => false,
        FieldType.String => string.Empty,
        FieldType.Bytes => ByteString.Empty,
        _ => 0,
    };

    private static object ReadScalar(CodedInputStream input, FieldType type) => type switch
    {
        FieldType.Double => input.ReadDouble(),
        FieldType.Float => input.ReadFloat(),
        FieldType.Int64 => input.ReadInt64(),
        FieldType.UInt64 => input.ReadUInt64(),
        FieldType.Int32 => input.ReadInt32(),
        FieldType.Fixed64 => input.ReadFixed64(),
        FieldType.Fixed32 => input.ReadFixed32(),
        FieldType.Bool => input.ReadBool(),
        FieldType.String => input.ReadString(),
        FieldType.Bytes => input.ReadBytes(),
        FieldType.UInt32 => input.ReadUInt32(),
        FieldType.SFixed32 => input.ReadSFixed32(),
        FieldType.SFixed64 => input.ReadSFixed64(),
        FieldType.SInt32 => input.ReadSInt32(),
        FieldType.SInt64 => input.ReadSInt64(),
        FieldType.Enum => input.ReadEnum(),
        _ => throw new InvalidOperationException($"Field type {type} is not a scalar."),
    };
}

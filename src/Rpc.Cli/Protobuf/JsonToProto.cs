using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Rpc.Cli.Protobuf;

/// <summary>
/// Encodes protobuf JSON (as JsonParser reads it) into the binary form the generated class would
/// write for the same message: fields in number order, proto3 defaults omitted unless the field has
/// presence, repeated scalars packed where the descriptor says so, map entries with key and value.
/// </summary>
public static class JsonToProto
{
    /// <summary>Encodes one JSON message of type <paramref name="descriptor"/>.</summary>
    /// <exception cref="JsonCodecException">The JSON does not fit; the message names the field.</exception>
    public static byte[] Encode(MessageDescriptor descriptor, string json)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new JsonCodecException($"Request is not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            return EncodeMessage(descriptor, document.RootElement, descriptor.Name);
        }
    }

    internal static byte[] EncodeMessage(MessageDescriptor descriptor, JsonElement json, string path)
    {
        if (WellKnownTypes.Find(descriptor) is { } wellKnown)
        {
            try
            {
                return JsonParser.Default.Parse(json.GetRawText(), wellKnown).ToByteArray();
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new JsonCodecException($"Field '{path}' ({descriptor.FullName}): {e.Message}", e);
            }
            catch (InvalidJsonException e)
            {
                throw new JsonCodecException($"Field '{path}' ({descriptor.FullName}): {e.Message}", e);
            }
        }

        if (json.ValueKind != JsonValueKind.Object)
        {
            throw new JsonCodecException($"Field '{path}' must be a JSON object ({descriptor.FullName}), not {json.ValueKind}.");
        }

        var values = new Dictionary<FieldDescriptor, JsonElement>();
        foreach (var property in json.EnumerateObject())
        {
            var field = FindField(descriptor, property.Name)
                ?? throw new JsonCodecException($"Unknown field '{path}.{property.Name}': {descriptor.FullName} has {string.Join(", ", descriptor.Fields.InDeclarationOrder().Select(f => f.JsonName))}.");
            if (property.Value.ValueKind == JsonValueKind.Null && field.FieldType == FieldType.Message && field.MessageType.FullName == "google.protobuf.Value")
            {
                values[field] = property.Value; // null is a value of its own for google.protobuf.Value.
                continue;
            }

            if (property.Value.ValueKind == JsonValueKind.Null)
            {
                values.Remove(field);
                continue;
            }

            if (field.ContainingOneof is { } oneof && values.Keys.Any(f => f != field && f.ContainingOneof == oneof))
            {
                throw new JsonCodecException($"Field '{path}.{property.Name}': oneof '{oneof.Name}' is already set.");
            }

            values[field] = property.Value;
        }

        using var buffer = new MemoryStream();
        var output = new CodedOutputStream(buffer);
        foreach (var field in descriptor.Fields.InFieldNumberOrder())
        {
            if (values.TryGetValue(field, out var value))
            {
                WriteField(output, field, value, path + "." + field.JsonName);
            }
        }

        output.Flush();
        return buffer.ToArray();
    }

    private static FieldDescriptor? FindField(MessageDescriptor descriptor, string name)
    {
        foreach (var field in descriptor.Fields.InDeclarationOrder())
        {
            if (field.JsonName == name || field.Name == name)
            {
                return field;
            }
        }

        return null;
    }

    private static void WriteField(CodedOutputStream output, FieldDescriptor field, JsonElement value, string path)
    {
        if (field.IsMap)
        {
            if (value.ValueKind != JsonValueKind.Object)
            {
                throw new JsonCodecException($"Field '{path}' is a map and must be a JSON object.");
            }

            var keyField = field.MessageType.FindFieldByNumber(1);
            var valueField = field.MessageType.FindFieldByNumber(2);
            foreach (var entry in value.EnumerateObject())
            {
                using var entryBuffer = new MemoryStream();
                var entryOutput = new CodedOutputStream(entryBuffer);
                // As Google.Protobuf's map codec: a key or scalar value at its default stays off the wire.
                var key = ParseMapKey(keyField, entry.Name, path);
                if (!IsDefault(key))
                {
                    WriteTag(entryOutput, keyField);
                    WriteScalar(entryOutput, keyField, key, path);
                }

                if (entry.Value.ValueKind == JsonValueKind.Null && valueField.FieldType != FieldType.Message)
                {
                    throw new JsonCodecException($"Field '{path}[{entry.Name}]': a map value cannot be null.");
                }

                if (valueField.FieldType == FieldType.Message)
                {
                    WriteTag(entryOutput, valueField);
                    WriteValue(entryOutput, valueField, entry.Value, $"{path}[{entry.Name}]");
                }
                else if (ParseScalar(valueField, entry.Value, $"{path}[{entry.Name}]") is var mapValue && !IsDefault(mapValue))
                {
                    WriteTag(entryOutput, valueField);
                    WriteScalar(entryOutput, valueField, mapValue, path);
                }
                entryOutput.Flush();
                output.WriteTag(field.FieldNumber, WireFormat.WireType.LengthDelimited);
                output.WriteBytes(ByteString.CopyFrom(entryBuffer.ToArray()));
            }

            return;
        }

        if (field.IsRepeated)
        {
            if (value.ValueKind != JsonValueKind.Array)
            {
                throw new JsonCodecException($"Field '{path}' is repeated and must be a JSON array.");
            }

            if (field.IsPacked && IsPackable(field.FieldType) && value.GetArrayLength() > 0)
            {
                using var packedBuffer = new MemoryStream();
                var packed = new CodedOutputStream(packedBuffer);
                var index = 0;
                foreach (var item in value.EnumerateArray())
                {
                    WriteScalar(packed, field, ParseScalar(field, item, $"{path}[{index++}]"), path);
                }

                packed.Flush();
                output.WriteTag(field.FieldNumber, WireFormat.WireType.LengthDelimited);
                output.WriteBytes(ByteString.CopyFrom(packedBuffer.ToArray()));
                return;
            }

            var i = 0;
            foreach (var item in value.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Null && !(field.FieldType == FieldType.Message && field.MessageType.FullName == "google.protobuf.Value"))
                {
                    throw new JsonCodecException($"Field '{path}[{i}]': a repeated element cannot be null.");
                }

                WriteTag(output, field);
                WriteValue(output, field, item, $"{path}[{i++}]");
            }

            return;
        }

        if (field.FieldType == FieldType.Message)
        {
            WriteTag(output, field);
            WriteValue(output, field, value, path);
            return;
        }

        var scalar = ParseScalar(field, value, path);
        if (!field.HasPresence && IsDefault(scalar))
        {
            return; // proto3 leaves a field without presence off the wire at its default, as the generated class does.
        }

        WriteTag(output, field);
        WriteScalar(output, field, scalar, path);
    }

    private static void WriteValue(CodedOutputStream output, FieldDescriptor field, JsonElement value, string path)
    {
        if (field.FieldType is FieldType.Message or FieldType.Group)
        {
            output.WriteBytes(ByteString.CopyFrom(EncodeMessage(field.MessageType, value, path)));
        }
        else
        {
            WriteScalar(output, field, ParseScalar(field, value, path), path);
        }
    }

    // Descriptors call a proto3 repeated field packed whatever its type; only scalars are.
    internal static bool IsPackable(FieldType type) => type is not (FieldType.String or FieldType.Bytes or FieldType.Message or FieldType.Group);

    private static void WriteTag(CodedOutputStream output, FieldDescriptor field) =>
        output.WriteTag(field.FieldNumber, WireTypeOf(field.FieldType));

    internal static WireFormat.WireType WireTypeOf(FieldType type) => type switch
    {
        FieldType.Double or FieldType.Fixed64 or FieldType.SFixed64 => WireFormat.WireType.Fixed64,
        FieldType.Float or FieldType.Fixed32 or FieldType.SFixed32 => WireFormat.WireType.Fixed32,
        FieldType.String or FieldType.Bytes or FieldType.Message => WireFormat.WireType.LengthDelimited,
        FieldType.Group => WireFormat.WireType.StartGroup,
        _ => WireFormat.WireType.Varint,
    };

    private static bool IsDefault(object value) => value switch
    {
        int i => i == 0,
        long l => l == 0,
        uint u => u == 0,
        ulong u => u == 0,
        bool b => !b,
#pragma warning disable S1244 // as the generated code: only +0 and -0 are the default.
        double d => d == 0,
        float f => f == 0,
#pragma warning restore S1244
        string s => s.Length == 0,
        ByteString b => b.IsEmpty,
        _ => false,
    };

    private static void WriteScalar(CodedOutputStream output, FieldDescriptor field, object value, string path)
    {
        switch (field.FieldType)
        {
            case FieldType.Double: output.WriteDouble((double)value); break;
            case FieldType.Float: output.WriteFloat((float)value); break;
            case FieldType.Int64: output.WriteInt64((long)value); break;
            case FieldType.UInt64: output.WriteUInt64((ulong)value); break;
            case FieldType.Int32: output.WriteInt32((int)value); break;
            case FieldType.Fixed64: output.WriteFixed64((ulong)value); break;
            case FieldType.Fixed32: output.WriteFixed32((uint)value); break;
            case FieldType.Bool: output.WriteBool((bool)value); break;
            case FieldType.String: output.WriteString((string)value); break;
            case FieldType.Bytes: output.WriteBytes((ByteString)value); break;
            case FieldType.UInt32: output.WriteUInt32((uint)value); break;
            case FieldType.SFixed32: output.WriteSFixed32((int)value); break;
            case FieldType.SFixed64: output.WriteSFixed64((long)value); break;
            case FieldType.SInt32: output.WriteSInt32((int)value); break;
            case FieldType.SInt64: output.WriteSInt64((long)value); break;
            case FieldType.Enum: output.WriteEnum((int)value); break;
            default: throw new JsonCodecException($"Field '{path}' has type {field.FieldType}, which the tool does not encode.");
        }
    }

    private static object ParseMapKey(FieldDescriptor keyField, string key, string path) => keyField.FieldType switch
    {
        FieldType.String => key,
        FieldType.Bool => key switch
        {
            "true" => true,
            "false" => false,
            _ => throw new JsonCodecException($"Field '{path}': map key '{key}' is not a bool."),
        },
        _ => ParseIntegral(keyField.FieldType, key, path),
    };

    private static object ParseScalar(FieldDescriptor field, JsonElement value, string path)
    {
        try
        {
            switch (field.FieldType)
            {
                case FieldType.String:
                    return value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Mismatch(path, "a string", value);
                case FieldType.Bool:
                    return value.ValueKind switch
                    {
                        JsonValueKind.True => true,
                        JsonValueKind.False => false,
                        _ => throw Mismatch(path, "true or false", value),
                    };
                case FieldType.Bytes:
                    return value.ValueKind == JsonValueKind.String ? ByteString.CopyFrom(DecodeBase64(value.GetString()!)) : throw Mismatch(path, "a base64 string", value);
                case FieldType.Enum:
                    return ParseEnum(field.EnumType, value, path);
                case FieldType.Double or FieldType.Float:
                    return ParseFloating(field.FieldType, value, path);
                default:
                    return value.ValueKind switch
                    {
                        JsonValueKind.Number or JsonValueKind.String => ParseIntegral(field.FieldType, value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText(), path),
                        _ => throw Mismatch(path, "a number", value),
                    };
            }
        }
        catch (FormatException e)
        {
            throw new JsonCodecException($"Field '{path}': {e.Message}", e);
        }
    }

    private static JsonCodecException Mismatch(string path, string expected, JsonElement value) =>
        new($"Field '{path}' must be {expected}, not {value.GetRawText()}.");

    private static int ParseEnum(EnumDescriptor type, JsonElement value, string path)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            var name = value.GetString()!;
            return type.FindValueByName(name)?.Number
                ?? throw new JsonCodecException($"Field '{path}': '{name}' is not a value of {type.FullName} ({string.Join(", ", type.Values.Select(v => v.Name))}).");
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number))
        {
            return number;
        }

        throw Mismatch(path, $"a name of {type.FullName} or a number", value);
    }

#pragma warning disable CA1859 // boxed on purpose: a float or a double, by the field's type.
    private static object ParseFloating(FieldType type, JsonElement value, string path)
    {
        double result;
        if (value.ValueKind == JsonValueKind.String)
        {
            var text = value.GetString()!;
            result = text switch
            {
                "NaN" => double.NaN,
                "Infinity" => double.PositiveInfinity,
                "-Infinity" => double.NegativeInfinity,
                _ => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
            };
        }
        else if (value.ValueKind == JsonValueKind.Number)
        {
            result = value.GetDouble();
        }
        else
        {
            throw Mismatch(path, "a number", value);
        }

        if (type == FieldType.Double)
        {
            return result;
        }

        if (double.IsFinite(result) && (result > float.MaxValue || result < float.MinValue))
        {
            throw new JsonCodecException($"Field '{path}': {result} is out of range for a float.");
        }

        return (float)result;
    }
#pragma warning restore CA1859

    private static object ParseIntegral(FieldType type, string text, string path)
    {
        // JsonParser takes integers written as 1e3 too, so a whole double is accepted where it is exact.
        if (!decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) || decimal.Truncate(number) != number)
        {
            throw new JsonCodecException($"Field '{path}': '{text}' is not an integer.");
        }

        try
        {
            return type switch
            {
                FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => (object)decimal.ToInt32(number),
                FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => decimal.ToInt64(number),
                FieldType.UInt32 or FieldType.Fixed32 => decimal.ToUInt32(number),
                FieldType.UInt64 or FieldType.Fixed64 => decimal.ToUInt64(number),
                _ => throw new JsonCodecException($"Field '{path}' has type {type}, which is not an integer."),
            };
        }
        catch (OverflowException e)
        {
            throw new JsonCodecException($"Field '{path}': {text} is out of range for {type}.", e);
        }
    }

    private static byte[] DecodeBase64(string text)
    {
        // JsonParser takes standard and URL-safe base64, padded or not.
        var normalized = text.Replace('-', '+').Replace('_', '/');
        normalized = normalized.PadRight(normalized.Length + ((4 - (normalized.Length % 4)) % 4), '=');
        return Convert.FromBase64String(normalized);
    }
}

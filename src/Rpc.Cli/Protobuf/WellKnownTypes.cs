using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace Rpc.Cli.Protobuf;

/// <summary>
/// The well-known types whose JSON form is special: they are handed to Google.Protobuf's own
/// generated classes, so their JSON is exactly JsonFormatter's/JsonParser's and not re-implemented here.
/// </summary>
internal static class WellKnownTypes
{
    private static readonly Dictionary<string, MessageDescriptor> ByName = new[]
    {
        Timestamp.Descriptor, Duration.Descriptor, FieldMask.Descriptor, Struct.Descriptor, Value.Descriptor,
        ListValue.Descriptor, Empty.Descriptor, Any.Descriptor, DoubleValue.Descriptor, FloatValue.Descriptor,
        Int64Value.Descriptor, UInt64Value.Descriptor, Int32Value.Descriptor, UInt32Value.Descriptor,
        BoolValue.Descriptor, StringValue.Descriptor, BytesValue.Descriptor,
    }.ToDictionary(d => d.FullName, StringComparer.Ordinal);

    /// <summary>The generated descriptor (with its parser) for a well-known type, or null for any other message.</summary>
    public static MessageDescriptor? Find(MessageDescriptor descriptor) => ByName.GetValueOrDefault(descriptor.FullName);
}

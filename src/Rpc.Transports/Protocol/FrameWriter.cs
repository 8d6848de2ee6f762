using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Grpc.Core;

namespace Rpc.Transports.Protocol;

/// <summary>
/// Writes whole frames straight into the connection's output buffer: header and payload are laid
/// out in one span, so no frame is built in a temporary array first.
/// </summary>
internal static class FrameWriter
{
    /// <summary>The payload length of a call start, to check against the peer's frame size before anything is written.</summary>
    public static int GetCallStartLength(string method, Metadata? headers) =>
        2 + Encoding.UTF8.GetByteCount(method) + 8 + MetadataCodec.GetSize(headers);

    /// <summary>The payload length of a TRAILERS frame.</summary>
    public static int GetTrailersLength(Status status, Metadata? trailers) => GetStatusSize(status) + MetadataCodec.GetSize(trailers);

    public static void WriteCallStart(IBufferWriter<byte> writer, uint streamId, string method, long timeoutMicroseconds, Metadata? headers)
    {
        var pathLength = Encoding.UTF8.GetByteCount(method);
        if (pathLength > PayloadCodec.MaxMethodLength)
        {
            throw new InvalidOperationException($"Method path of {pathLength} bytes is longer than {PayloadCodec.MaxMethodLength}.");
        }

        var length = 2 + pathLength + 8 + MetadataCodec.GetSize(headers);
        var span = Begin(writer, FrameType.Headers, FrameFlags.None, streamId, length);
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)pathLength);
        var offset = 2 + Encoding.UTF8.GetBytes(method, span[2..]);
        BinaryPrimitives.WriteInt64BigEndian(span[offset..], timeoutMicroseconds);
        offset += 8;
        offset += MetadataCodec.Write(span[offset..], headers);
        End(writer, length);
    }

    public static void WriteResponseHeaders(IBufferWriter<byte> writer, uint streamId, Metadata? headers)
    {
        var length = MetadataCodec.GetSize(headers);
        var span = Begin(writer, FrameType.Headers, FrameFlags.None, streamId, length);
        MetadataCodec.Write(span, headers);
        End(writer, length);
    }

    public static void WriteMessage(IBufferWriter<byte> writer, uint streamId, ReadOnlySpan<byte> fragment, byte flags)
    {
        var span = Begin(writer, FrameType.Message, flags, streamId, fragment.Length);
        fragment.CopyTo(span);
        End(writer, fragment.Length);
    }

    public static void WriteMessageReference(IBufferWriter<byte> writer, uint streamId, uint regionId, int length, long announcedSize, byte flags)
    {
        var span = Begin(writer, FrameType.MessageRef, announcedSize > 0 ? (byte)(flags | FrameFlags.NewRegion) : flags, streamId, MessageReference.PayloadLength);
        BinaryPrimitives.WriteUInt32BigEndian(span, regionId);
        BinaryPrimitives.WriteUInt32BigEndian(span[4..], (uint)length);
        BinaryPrimitives.WriteInt64BigEndian(span[8..], announcedSize);
        End(writer, MessageReference.PayloadLength);
    }

    /// <summary>REGION_RELEASE or REGION_DROP.</summary>
    public static void WriteRegionControl(IBufferWriter<byte> writer, FrameType type, uint regionId)
    {
        var span = Begin(writer, type, FrameFlags.None, 0, 4);
        BinaryPrimitives.WriteUInt32BigEndian(span, regionId);
        End(writer, 4);
    }

    public static void WriteHalfClose(IBufferWriter<byte> writer, uint streamId)
    {
        Begin(writer, FrameType.HalfClose, FrameFlags.None, streamId, 0);
        End(writer, 0);
    }

    public static void WriteTrailers(IBufferWriter<byte> writer, uint streamId, Status status, Metadata? trailers)
    {
        var length = GetStatusSize(status) + MetadataCodec.GetSize(trailers);
        var span = Begin(writer, FrameType.Trailers, FrameFlags.None, streamId, length);
        var offset = WriteStatus(span, status);
        MetadataCodec.Write(span[offset..], trailers);
        End(writer, length);
    }

    public static void WriteCancel(IBufferWriter<byte> writer, uint streamId, Status status)
    {
        var length = GetStatusSize(status);
        var span = Begin(writer, FrameType.Cancel, FrameFlags.None, streamId, length);
        WriteStatus(span, status);
        End(writer, length);
    }

    public static void WritePing(IBufferWriter<byte> writer, ulong opaque, bool ack)
    {
        var span = Begin(writer, FrameType.Ping, ack ? FrameFlags.Ack : FrameFlags.None, 0, PayloadCodec.PingLength);
        BinaryPrimitives.WriteUInt64BigEndian(span, opaque);
        End(writer, PayloadCodec.PingLength);
    }

    public static void WriteGoAway(IBufferWriter<byte> writer, uint lastStreamId, Status status)
    {
        var length = 4 + GetStatusSize(status);
        var span = Begin(writer, FrameType.GoAway, FrameFlags.None, 0, length);
        BinaryPrimitives.WriteUInt32BigEndian(span, lastStreamId);
        WriteStatus(span[4..], status);
        End(writer, length);
    }

    public static void WriteWindowUpdate(IBufferWriter<byte> writer, uint streamId, int increment)
    {
        var span = Begin(writer, FrameType.WindowUpdate, FrameFlags.None, streamId, 4);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)increment);
        End(writer, 4);
    }

    public static void WriteSettings(IBufferWriter<byte> writer, ConnectionSettings settings)
    {
        const int count = 6;
        var span = Begin(writer, FrameType.Settings, FrameFlags.None, 0, count * 6);
        WriteSetting(span, SettingId.MaxFrameSize, settings.MaxFrameSize);
        WriteSetting(span[6..], SettingId.InitialWindowSize, settings.InitialWindowSize);
        WriteSetting(span[12..], SettingId.MaxConcurrentStreams, settings.MaxConcurrentStreams);
        WriteSetting(span[18..], SettingId.MaxHeaderListSize, settings.MaxHeaderListSize);
        WriteSetting(span[24..], SettingId.ConnectionWindowSize, settings.ConnectionWindowSize);
        WriteSetting(span[30..], SettingId.MappedPayloadLimit, settings.MappedPayloadLimit);
        End(writer, count * 6);
    }

    private static void WriteSetting(Span<byte> span, SettingId id, int value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)id);
        BinaryPrimitives.WriteUInt32BigEndian(span[2..], (uint)value);
    }

    private static int GetStatusSize(Status status) => 8 + Encoding.UTF8.GetByteCount(status.Detail ?? string.Empty);

    private static int WriteStatus(Span<byte> span, Status status)
    {
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)status.StatusCode);
        var detailLength = Encoding.UTF8.GetBytes(status.Detail ?? string.Empty, span[8..]);
        BinaryPrimitives.WriteUInt32BigEndian(span[4..], (uint)detailLength);
        return 8 + detailLength;
    }

    private static Span<byte> Begin(IBufferWriter<byte> writer, FrameType type, byte flags, uint streamId, int length)
    {
        var span = writer.GetSpan(FrameHeader.Size + length);
        new FrameHeader(length, type, flags, streamId).Write(span);
        return span.Slice(FrameHeader.Size, length);
    }

    private static void End(IBufferWriter<byte> writer, int length) => writer.Advance(FrameHeader.Size + length);
}

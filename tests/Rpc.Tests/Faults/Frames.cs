using System.Buffers;
using System.Buffers.Binary;
using Grpc.Core;
using Rpc.Transports.Protocol;

namespace Rpc.Tests.Faults;

/// <summary>Bytes a hand-driven peer sends, built with the protocol's own writer where the frame is valid.</summary>
internal static class Frames
{
    public const string EmptyCall = "/rpc.testing.TestService/EmptyCall";
    public const string UnaryCall = "/rpc.testing.TestService/UnaryCall";
    public const string StreamingOutputCall = "/rpc.testing.TestService/StreamingOutputCall";

    /// <summary>The client's preface and SETTINGS, as a well-behaved peer opens.</summary>
    public static byte[] Handshake(ConnectionSettings? settings = null) => Build(w =>
    {
        Preface.Write(w);
        FrameWriter.WriteSettings(w, settings ?? new ConnectionSettings());
    });

    public static byte[] Build(Action<ArrayBufferWriter<byte>> write)
    {
        var writer = new ArrayBufferWriter<byte>();
        write(writer);
        return writer.WrittenSpan.ToArray();
    }

    public static void CallStart(IBufferWriter<byte> writer, uint streamId, string method, Metadata? headers = null, long timeoutMicroseconds = CallStartTimeout.None) =>
        FrameWriter.WriteCallStart(writer, streamId, method, timeoutMicroseconds, headers);

    public static void Message(IBufferWriter<byte> writer, uint streamId, ReadOnlySpan<byte> body, bool endStream = true) =>
        FrameWriter.WriteMessage(writer, streamId, body, endStream ? (byte)(FrameFlags.EndMessage | FrameFlags.EndStream) : FrameFlags.EndMessage);

    public static void Cancel(IBufferWriter<byte> writer, uint streamId) =>
        FrameWriter.WriteCancel(writer, streamId, new Status(StatusCode.Cancelled, string.Empty));

    /// <summary>A frame header with any field values at all, followed by <paramref name="payload"/>.</summary>
    public static byte[] RawFrame(uint length, byte type, byte flags, uint streamId, byte[]? payload = null)
    {
        var bytes = new byte[FrameHeader.Size + (payload?.Length ?? 0)];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, length);
        bytes[4] = type;
        bytes[5] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(6), streamId);
        payload?.CopyTo(bytes, FrameHeader.Size);
        return bytes;
    }

    /// <summary>Values of the HEADERS timeout field.</summary>
    public static class CallStartTimeout
    {
        public const long None = -1;
    }
}

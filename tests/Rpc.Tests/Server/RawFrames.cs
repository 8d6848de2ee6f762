using System.Buffers;
using Google.Protobuf;
using Rpc.Transports.Protocol;

namespace Rpc.Tests.Server;

/// <summary>Wire bytes written by hand, for peers that misbehave in ways our own client and server never do.</summary>
internal static class RawFrames
{
    public static byte[] Build(Action<ArrayBufferWriter<byte>> write)
    {
        var writer = new ArrayBufferWriter<byte>();
        write(writer);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Preface and default SETTINGS: all a peer needs to finish its handshake.</summary>
    public static byte[] Handshake() => Build(writer =>
    {
        Preface.Write(writer);
        FrameWriter.WriteSettings(writer, new ConnectionSettings());
    });

    /// <summary>A whole unary-style request: call start, then one message that half-closes the stream.</summary>
    public static byte[] Call(uint streamId, string method, long timeoutMicroseconds, IMessage request) => Build(writer =>
    {
        FrameWriter.WriteCallStart(writer, streamId, method, timeoutMicroseconds, headers: null);
        FrameWriter.WriteMessage(writer, streamId, request.ToByteArray(), (byte)(FrameFlags.EndMessage | FrameFlags.EndStream));
    });
}

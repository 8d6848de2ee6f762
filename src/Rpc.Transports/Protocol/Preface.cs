using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Rpc.Transports.Protocol;

/// <summary>The 8 bytes each side sends first: "RPCIPC" and the protocol version.</summary>
internal static class Preface
{
    public const int Size = 8;
    public const ushort Version = 1;
    private static ReadOnlySpan<byte> Magic => "RPCIPC"u8;
    private static ReadOnlySpan<byte> Http2Start => "PRI * HTTP/2.0"u8;

    public static void Write(IBufferWriter<byte> writer)
    {
        var span = writer.GetSpan(Size);
        Magic.CopyTo(span);
        BinaryPrimitives.WriteUInt16BigEndian(span[6..], Version);
        writer.Advance(Size);
    }

    /// <summary>Checks a received preface and names what the peer is when it is not ours.</summary>
    public static void Validate(ReadOnlySequence<byte> received)
    {
        Span<byte> bytes = stackalloc byte[Size];
        received.Slice(0, Size).CopyTo(bytes);
        if (!bytes[..Magic.Length].SequenceEqual(Magic))
        {
            if (bytes.SequenceEqual(Http2Start[..Size]))
            {
                throw new ProtocolException("The peer speaks HTTP/2 (a gRPC-over-HTTP/2 client?), not the Rpc protocol.");
            }

            if (bytes[..4].SequenceEqual("HTTP"u8) || bytes[..4].SequenceEqual("GET "u8) || bytes[..4].SequenceEqual("POST"u8))
            {
                throw new ProtocolException("The peer speaks HTTP, not the Rpc protocol.");
            }

            throw new ProtocolException($"The peer is not an Rpc endpoint: it began with {Convert.ToHexString(bytes)} ('{Printable(bytes)}').");
        }

        var version = BinaryPrimitives.ReadUInt16BigEndian(bytes[6..]);
        if (version != Version)
        {
            throw new ProtocolException($"Unsupported protocol version {version}; this side speaks version {Version}.");
        }
    }

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            text.Append(b is >= 0x20 and < 0x7F ? (char)b : '.');
        }

        return text.ToString();
    }
}

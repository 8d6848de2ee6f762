using System.Buffers;

namespace Rpc.Transports.Protocol;

/// <summary>
/// Cuts frames off the front of received bytes and checks every header field before the payload
/// is looked at. Payload parsing lives with each payload type.
/// </summary>
internal static class FrameReader
{
    /// <summary>
    /// Takes one whole frame off <paramref name="buffer"/>; <see langword="false"/> when more bytes
    /// are needed. Throws <see cref="ProtocolException"/> for a header that breaks the protocol.
    /// </summary>
    public static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, int maxFrameSize, out FrameHeader header, out ReadOnlySequence<byte> payload)
    {
        if (buffer.Length < FrameHeader.Size)
        {
            header = default;
            payload = default;
            return false;
        }

        Span<byte> headerBytes = stackalloc byte[FrameHeader.Size];
        buffer.Slice(0, FrameHeader.Size).CopyTo(headerBytes);
        header = FrameHeader.Read(headerBytes, out var rawLength);
        if (rawLength > (uint)maxFrameSize)
        {
            throw new ProtocolException($"A {header.Type} frame of {rawLength} bytes exceeds the maximum frame size of {maxFrameSize} bytes.");
        }

        Validate(header);
        if (buffer.Length < FrameHeader.Size + header.Length)
        {
            payload = default;
            return false;
        }

        payload = buffer.Slice(FrameHeader.Size, header.Length);
        buffer = buffer.Slice(payload.End);
        return true;
    }

    private static void Validate(FrameHeader header)
    {
        switch (header.Type)
        {
            case FrameType.Settings:
                RequireConnectionFrame(header);
                RequireFlags(header, FrameFlags.None);
                if (header.Length % 6 != 0)
                {
                    throw new ProtocolException($"A SETTINGS frame of {header.Length} bytes is not a whole number of 6-byte settings.");
                }

                break;
            case FrameType.Headers:
                RequireStreamFrame(header);
                RequireFlags(header, FrameFlags.None);
                break;
            case FrameType.Message:
                RequireStreamFrame(header);
                RequireFlags(header, FrameFlags.EndMessage | FrameFlags.EndStream | FrameFlags.Compressed);
                if (header.HasFlag(FrameFlags.EndStream) && !header.HasFlag(FrameFlags.EndMessage))
                {
                    throw new ProtocolException("A MESSAGE frame has END_STREAM without END_MESSAGE.");
                }

                if (header.HasFlag(FrameFlags.Compressed) && !header.HasFlag(FrameFlags.EndMessage))
                {
                    throw new ProtocolException("A MESSAGE frame has COMPRESSED without END_MESSAGE.");
                }

                break;
            case FrameType.MessageRef:
                RequireStreamFrame(header);
                RequireFlags(header, FrameFlags.EndStream | FrameFlags.Compressed | FrameFlags.NewRegion);
                RequireLength(header, MessageReference.PayloadLength, exact: true);
                break;
            case FrameType.RegionRelease:
            case FrameType.RegionDrop:
                RequireConnectionFrame(header);
                RequireFlags(header, FrameFlags.None);
                RequireLength(header, 4, exact: true);
                break;
            case FrameType.HalfClose:
                RequireStreamFrame(header);
                RequireFlags(header, FrameFlags.None);
                RequireLength(header, 0, exact: true);
                break;
            case FrameType.Trailers:
                RequireStreamFrame(header);
                RequireFlags(header, FrameFlags.None);
                RequireLength(header, PayloadCodec.MinTrailersLength, exact: false);
                break;
            case FrameType.Cancel:
                RequireStreamFrame(header);
                RequireFlags(header, FrameFlags.None);
                RequireLength(header, PayloadCodec.MinCancelLength, exact: false);
                break;
            case FrameType.Ping:
                RequireConnectionFrame(header);
                RequireFlags(header, FrameFlags.Ack);
                RequireLength(header, PayloadCodec.PingLength, exact: true);
                break;
            case FrameType.GoAway:
                RequireConnectionFrame(header);
                RequireFlags(header, FrameFlags.None);
                RequireLength(header, PayloadCodec.MinGoAwayLength, exact: false);
                break;
            case FrameType.WindowUpdate:
                // Stream 0 is the connection's window.
                RequireFlags(header, FrameFlags.None);
                RequireLength(header, 4, exact: true);
                break;
            default:
                throw new ProtocolException($"Unknown frame type 0x{(byte)header.Type:x2}.");
        }
    }

    private static void RequireConnectionFrame(FrameHeader header)
    {
        if (header.StreamId != 0)
        {
            throw new ProtocolException($"A {header.Type} frame must be on stream 0, not stream {header.StreamId}.");
        }
    }

    private static void RequireStreamFrame(FrameHeader header)
    {
        if (header.StreamId == 0)
        {
            throw new ProtocolException($"A {header.Type} frame must be on a call's stream, not stream 0.");
        }
    }

    private static void RequireFlags(FrameHeader header, byte allowed)
    {
        if ((header.Flags & ~allowed) != 0)
        {
            throw new ProtocolException($"A {header.Type} frame has unknown flags 0x{header.Flags:x2}.");
        }
    }

    private static void RequireLength(FrameHeader header, int length, bool exact)
    {
        if (exact ? header.Length != length : header.Length < length)
        {
            throw new ProtocolException($"A {header.Type} frame of {header.Length} bytes is malformed: it must be {(exact ? "exactly" : "at least")} {length} bytes.");
        }
    }
}

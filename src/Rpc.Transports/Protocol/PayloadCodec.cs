using System.Buffers;
using System.Text;
using Grpc.Core;

namespace Rpc.Transports.Protocol;

/// <summary>A call start: the method, the caller's remaining time and the request headers.</summary>
internal readonly record struct CallStart(string Method, long TimeoutMicroseconds, Metadata Headers)
{
    public const long NoTimeout = -1;

    /// <summary>
    /// The longest timeout a call start carries: 99,999,999 hours, the most gRPC's grpc-timeout
    /// header can express. Longer ones are clamped to it on receipt, so no decoded value can make a
    /// <see cref="TimeSpan"/> overflow (1e18 µs did, out of the read loop).
    /// </summary>
    public const long MaxTimeoutMicroseconds = 99_999_999L * 3600 * 1_000_000;
}

/// <summary>The server's last word on a call.</summary>
internal readonly record struct TrailersPayload(Status Status, Metadata Trailers);

/// <summary>A GOAWAY: calls above <see cref="LastStreamId"/> were never seen.</summary>
internal readonly record struct GoAwayPayload(uint LastStreamId, Status Status);

/// <summary>A MESSAGE_REF: the message is the first <see cref="Length"/> bytes of region <see cref="RegionId"/>, which it announces when <see cref="AnnouncedSize"/> is set.</summary>
internal readonly record struct MessageReference(uint RegionId, int Length, long? AnnouncedSize)
{
    /// <summary>Region id (u32), message length (u32), region size (u64, 0 unless NEW_REGION).</summary>
    public const int PayloadLength = 16;
}

/// <summary>
/// Parses frame payloads. Every read checks the bytes are there first; a payload that does not
/// parse, or has bytes left over, is a <see cref="ProtocolException"/>.
/// </summary>
internal static class PayloadCodec
{
    public const int MinTrailersLength = 4 + 4 + 2;
    public const int MinCancelLength = 4 + 4;
    public const int MinGoAwayLength = 4 + 4 + 4;
    public const int PingLength = 8;
    public const int MaxMethodLength = 4096;
    private const int MaxStatusCode = (int)StatusCode.Unauthenticated;

    public static CallStart ReadCallStart(ReadOnlySequence<byte> payload, ICallAcceptor? knownPaths = null, int maxHeaderListSize = int.MaxValue)
    {
        var reader = new SequenceReader<byte>(payload);
        var pathLength = ReadUInt16(ref reader, "method path length");
        var path = ReadMethodPath(ref reader, pathLength, knownPaths);
        if (path.Length == 0 || path[0] != '/')
        {
            throw new ProtocolException($"Method path '{path}' does not start with '/'.");
        }

        if (!reader.TryReadBigEndian(out long timeout) || timeout < CallStart.NoTimeout)
        {
            throw new ProtocolException("HEADERS frame has a missing or negative timeout.");
        }

        var headers = MetadataCodec.Read(ref reader, maxHeaderListSize);
        RequireEnd(ref reader, FrameType.Headers);
        return new CallStart(path, Math.Min(timeout, CallStart.MaxTimeoutMicroseconds), headers);
    }

    public static Metadata ReadResponseHeaders(ReadOnlySequence<byte> payload, int maxHeaderListSize = int.MaxValue)
    {
        var reader = new SequenceReader<byte>(payload);
        var headers = MetadataCodec.Read(ref reader, maxHeaderListSize);
        RequireEnd(ref reader, FrameType.Headers);
        return headers;
    }

    public static TrailersPayload ReadTrailers(ReadOnlySequence<byte> payload, int maxHeaderListSize = int.MaxValue)
    {
        var reader = new SequenceReader<byte>(payload);
        var status = ReadStatus(ref reader);
        var trailers = MetadataCodec.Read(ref reader, maxHeaderListSize);
        RequireEnd(ref reader, FrameType.Trailers);
        return new TrailersPayload(status, trailers);
    }

    public static Status ReadCancel(ReadOnlySequence<byte> payload)
    {
        var reader = new SequenceReader<byte>(payload);
        var status = ReadStatus(ref reader);
        RequireEnd(ref reader, FrameType.Cancel);
        return status;
    }

    public static GoAwayPayload ReadGoAway(ReadOnlySequence<byte> payload)
    {
        var reader = new SequenceReader<byte>(payload);
        var lastStreamId = ReadUInt32(ref reader, "last stream id");
        var status = ReadStatus(ref reader);
        RequireEnd(ref reader, FrameType.GoAway);
        return new GoAwayPayload(lastStreamId, status);
    }

    public static uint ReadWindowUpdate(ReadOnlySequence<byte> payload)
    {
        var reader = new SequenceReader<byte>(payload);
        var increment = ReadUInt32(ref reader, "window increment");
        if (increment == 0 || increment > int.MaxValue)
        {
            throw new ProtocolException($"WINDOW_UPDATE increment {increment} is outside 1..{int.MaxValue}.");
        }

        return increment;
    }

    public static MessageReference ReadMessageReference(ReadOnlySequence<byte> payload, byte flags)
    {
        var reader = new SequenceReader<byte>(payload);
        var id = ReadUInt32(ref reader, "region id");
        var length = ReadUInt32(ref reader, "message length");
        reader.TryReadBigEndian(out long size);
        if (id == 0 || length > int.MaxValue)
        {
            throw new ProtocolException($"MESSAGE_REF names region {id} and {length} bytes; ids start at 1 and lengths fit 31 bits.");
        }

        var announces = (flags & FrameFlags.NewRegion) != 0;
        if (announces == (size == 0))
        {
            throw new ProtocolException($"MESSAGE_REF carries region size {size} with NEW_REGION {(announces ? "set" : "clear")}.");
        }

        return new MessageReference(id, (int)length, announces ? size : null);
    }

    public static uint ReadRegionId(ReadOnlySequence<byte> payload, FrameType type)
    {
        var reader = new SequenceReader<byte>(payload);
        var id = ReadUInt32(ref reader, "region id");
        RequireEnd(ref reader, type);
        return id;
    }

    public static ulong ReadPing(ReadOnlySequence<byte> payload)
    {
        var reader = new SequenceReader<byte>(payload);
        reader.TryReadBigEndian(out long opaque);
        return (ulong)opaque;
    }

    internal static Status ReadStatus(ref SequenceReader<byte> reader)
    {
        var code = ReadUInt32(ref reader, "status code");
        if (code > MaxStatusCode)
        {
            throw new ProtocolException($"Status code {code} is not a gRPC status code.");
        }

        var messageLength = ReadUInt32(ref reader, "status message length");
        if (messageLength > reader.Remaining)
        {
            throw new ProtocolException($"Status message of {messageLength} bytes runs past the end of its frame.");
        }

        var message = ReadUtf8(ref reader, (int)messageLength, "status message");
        return new Status((StatusCode)code, message);
    }

    internal static ushort ReadUInt16(ref SequenceReader<byte> reader, string what)
    {
        return reader.TryReadBigEndian(out short value)
            ? (ushort)value
            : throw new ProtocolException($"Frame ends before its {what}.");
    }

    internal static uint ReadUInt32(ref SequenceReader<byte> reader, string what)
    {
        return reader.TryReadBigEndian(out int value)
            ? (uint)value
            : throw new ProtocolException($"Frame ends before its {what}.");
    }

    internal static string ReadAscii(ref SequenceReader<byte> reader, int length, string what)
    {
        using var bytes = ReadBytes(ref reader, length, what);
        foreach (var b in bytes.Span)
        {
            if (b is < 0x20 or > 0x7E)
            {
                throw new ProtocolException($"The {what} has a byte 0x{b:x2} outside printable ASCII.");
            }
        }

        return Encoding.ASCII.GetString(bytes.Span);
    }

    private static string ReadMethodPath(ref SequenceReader<byte> reader, int length, ICallAcceptor? knownPaths)
    {
        if (knownPaths is null || length > 512)
        {
            return ReadUtf8(ref reader, length, "method path");
        }

        using var bytes = ReadBytes(ref reader, length, "method path");
        Span<char> chars = stackalloc char[512];
        var count = Encoding.UTF8.GetChars(bytes.Span, chars);
        return knownPaths.FindKnownPath(chars[..count]) ?? new string(chars[..count]);
    }

    private static string ReadUtf8(ref SequenceReader<byte> reader, int length, string what)
    {
        using var bytes = ReadBytes(ref reader, length, what);
        return Encoding.UTF8.GetString(bytes.Span);
    }

    /// <summary>The next <paramref name="length"/> bytes: a view when they are contiguous, a pooled copy when not.</summary>
    private static PayloadBytes ReadBytes(ref SequenceReader<byte> reader, int length, string what)
    {
        if (reader.Remaining < length)
        {
            throw new ProtocolException($"The {what} of {length} bytes runs past the end of its frame.");
        }

        if (reader.UnreadSpan.Length >= length)
        {
            var span = reader.UnreadSpan[..length];
            reader.Advance(length);
            return new PayloadBytes(span, null);
        }

        var rented = ArrayPool<byte>.Shared.Rent(length);
        reader.TryCopyTo(rented.AsSpan(0, length));
        reader.Advance(length);
        return new PayloadBytes(rented.AsSpan(0, length), rented);
    }

    /// <summary>Bytes read from a payload; disposing returns the pooled copy, if one was made.</summary>
    private readonly ref struct PayloadBytes
    {
        private readonly byte[]? _rented;

        public PayloadBytes(ReadOnlySpan<byte> span, byte[]? rented)
        {
            Span = span;
            _rented = rented;
        }

        public ReadOnlySpan<byte> Span { get; }

        public void Dispose()
        {
            if (_rented is not null)
            {
                ArrayPool<byte>.Shared.Return(_rented);
            }
        }
    }

    private static void RequireEnd(ref SequenceReader<byte> reader, FrameType type)
    {
        if (!reader.End)
        {
            throw new ProtocolException($"A {type} frame has {reader.Remaining} bytes left over after its payload.");
        }
    }
}

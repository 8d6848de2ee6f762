using System.Buffers;
using System.Buffers.Binary;
using Grpc.Core;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Protocol;

public sealed class FrameCodecTests
{
    private const int MaxFrame = 64 * 1024;

    [Fact]
    public void CallStart_RoundTrips_WithAsciiAndBinaryMetadata()
    {
        var headers = new Metadata { { "x-text", "hello world" }, { "x-data-bin", new byte[] { 0, 1, 255 } } };
        var (header, payload) = RoundTrip(w => FrameWriter.WriteCallStart(w, 7, "/pkg.Svc/Método", 1_500_000, headers));
        Assert.Equal(new FrameHeader(header.Length, FrameType.Headers, 0, 7), header);
        var start = PayloadCodec.ReadCallStart(payload);
        Assert.Equal("/pkg.Svc/Método", start.Method);
        Assert.Equal(1_500_000, start.TimeoutMicroseconds);
        Assert.Equal("hello world", start.Headers.GetValue("x-text"));
        Assert.Equal(new byte[] { 0, 1, 255 }, start.Headers.GetValueBytes("x-data-bin"));
    }

    [Fact]
    public void ResponseHeaders_RoundTrip()
    {
        var (_, payload) = RoundTrip(w => FrameWriter.WriteResponseHeaders(w, 3, new Metadata { { "a", "b" } }));
        Assert.Equal("b", PayloadCodec.ReadResponseHeaders(payload).GetValue("a"));
    }

    [Fact]
    public void Message_RoundTrips_WithFlags()
    {
        var body = Enumerable.Range(0, 1000).Select(i => (byte)i).ToArray();
        var (header, payload) = RoundTrip(w => FrameWriter.WriteMessage(w, 9, body, FrameFlags.EndMessage | FrameFlags.EndStream));
        Assert.Equal(FrameType.Message, header.Type);
        Assert.True(header.HasFlag(FrameFlags.EndMessage));
        Assert.True(header.HasFlag(FrameFlags.EndStream));
        Assert.Equal(body, payload.ToArray());
    }

    [Fact]
    public void HalfClose_RoundTrips()
    {
        var (header, payload) = RoundTrip(w => FrameWriter.WriteHalfClose(w, 11));
        Assert.Equal(new FrameHeader(0, FrameType.HalfClose, 0, 11), header);
        Assert.True(payload.IsEmpty);
    }

    [Fact]
    public void Trailers_RoundTrip()
    {
        var (_, payload) = RoundTrip(w => FrameWriter.WriteTrailers(w, 1, new Status(StatusCode.NotFound, "nowhere ✓"), new Metadata { { "t", "v" } }));
        var trailers = PayloadCodec.ReadTrailers(payload);
        Assert.Equal(StatusCode.NotFound, trailers.Status.StatusCode);
        Assert.Equal("nowhere ✓", trailers.Status.Detail);
        Assert.Equal("v", trailers.Trailers.GetValue("t"));
    }

    [Fact]
    public void Cancel_RoundTrips()
    {
        var (_, payload) = RoundTrip(w => FrameWriter.WriteCancel(w, 5, new Status(StatusCode.Cancelled, "bye")));
        Assert.Equal(new Status(StatusCode.Cancelled, "bye"), PayloadCodec.ReadCancel(payload));
    }

    [Fact]
    public void Ping_RoundTrips()
    {
        var (header, payload) = RoundTrip(w => FrameWriter.WritePing(w, 0xDEADBEEF_CAFEF00D, ack: true));
        Assert.True(header.HasFlag(FrameFlags.Ack));
        Assert.Equal(0xDEADBEEF_CAFEF00D, PayloadCodec.ReadPing(payload));
    }

    [Fact]
    public void GoAway_RoundTrips()
    {
        var (_, payload) = RoundTrip(w => FrameWriter.WriteGoAway(w, 41, new Status(StatusCode.Unavailable, "shutting down")));
        var goAway = PayloadCodec.ReadGoAway(payload);
        Assert.Equal(41u, goAway.LastStreamId);
        Assert.Equal("shutting down", goAway.Status.Detail);
    }

    [Fact]
    public void WindowUpdate_RoundTrips()
    {
        var (_, payload) = RoundTrip(w => FrameWriter.WriteWindowUpdate(w, 3, 65_536));
        Assert.Equal(65_536u, PayloadCodec.ReadWindowUpdate(payload));
    }

    [Fact]
    public void Settings_RoundTrip()
    {
        var settings = new ConnectionSettings { MaxFrameSize = 32 * 1024, InitialWindowSize = 128 * 1024, MaxConcurrentStreams = 7 };
        var (_, payload) = RoundTrip(w => FrameWriter.WriteSettings(w, settings));
        Assert.Equal(settings, ConnectionSettings.Read(payload));
    }

    [Fact]
    public void TryReadFrame_ShortHeader_WaitsForMore()
    {
        var buffer = new ReadOnlySequence<byte>(new byte[5]);
        Assert.False(FrameReader.TryReadFrame(ref buffer, MaxFrame, out _, out _));
    }

    [Fact]
    public void TryReadFrame_ShortPayload_WaitsForMore()
    {
        var bytes = Frame(FrameType.Message, FrameFlags.EndMessage, 1, new byte[100]);
        var buffer = new ReadOnlySequence<byte>(bytes.AsMemory(0, bytes.Length - 1));
        Assert.False(FrameReader.TryReadFrame(ref buffer, MaxFrame, out _, out _));
    }

    [Fact]
    public void TryReadFrame_SplitAcrossSegments_ReadsWholeFrame()
    {
        var bytes = Frame(FrameType.Message, FrameFlags.EndMessage, 1, [1, 2, 3, 4, 5]);
        var buffer = Segmented(bytes, 3);
        Assert.True(FrameReader.TryReadFrame(ref buffer, MaxFrame, out var header, out var payload));
        Assert.Equal(5, header.Length);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, payload.ToArray());
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void TryReadFrame_LengthOverMaximum_IsProtocolError()
    {
        var bytes = Frame(FrameType.Message, FrameFlags.EndMessage, 1, []);
        BinaryPrimitives.WriteUInt32BigEndian(bytes, MaxFrame + 1);
        var ex = ReadError(bytes);
        Assert.Contains("exceeds the maximum frame size", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryReadFrame_HugeLength_IsProtocolErrorBeforeAllocating()
    {
        var bytes = Frame(FrameType.Message, FrameFlags.EndMessage, 1, []);
        BinaryPrimitives.WriteUInt32BigEndian(bytes, uint.MaxValue);
        Assert.Contains("4294967295", ReadError(bytes).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryReadFrame_UnknownType_IsProtocolError() =>
        Assert.Contains("Unknown frame type 0x2a", ReadError(Frame((FrameType)42, 0, 1, [])).Message, StringComparison.Ordinal);

    [Fact]
    public void TryReadFrame_UnknownFlags_IsProtocolError() =>
        Assert.Contains("unknown flags", ReadError(Frame(FrameType.Message, 0x80, 1, [])).Message, StringComparison.Ordinal);

    [Fact]
    public void TryReadFrame_EndStreamWithoutEndMessage_IsProtocolError() =>
        Assert.Contains("END_STREAM without END_MESSAGE", ReadError(Frame(FrameType.Message, FrameFlags.EndStream, 1, [])).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData((byte)FrameType.Headers, 0u)]
    [InlineData((byte)FrameType.Message, 0u)]
    [InlineData((byte)FrameType.HalfClose, 0u)]
    [InlineData((byte)FrameType.Ping, 3u)]
    [InlineData((byte)FrameType.GoAway, 3u)]
    [InlineData((byte)FrameType.Settings, 3u)]
    public void TryReadFrame_WrongStreamForType_IsProtocolError(byte type, uint streamId) =>
        Assert.Contains("stream", ReadError(Frame((FrameType)type, 0, streamId, new byte[12])).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData((byte)FrameType.Ping, 7)]
    [InlineData((byte)FrameType.WindowUpdate, 3)]
    [InlineData((byte)FrameType.HalfClose, 1)]
    [InlineData((byte)FrameType.Trailers, 2)]
    [InlineData((byte)FrameType.Settings, 5)]
    public void TryReadFrame_WrongPayloadLength_IsProtocolError(byte type, int length) =>
        Assert.IsType<ProtocolException>(ReadErrorOrNull(Frame((FrameType)type, 0, (FrameType)type is FrameType.Ping or FrameType.Settings ? 0u : 1u, new byte[length])));

    [Fact]
    public void ReadCallStart_PathRunsPastFrame_IsProtocolError()
    {
        var payload = new byte[4];
        BinaryPrimitives.WriteUInt16BigEndian(payload, 100);
        Assert.Throws<ProtocolException>(() => PayloadCodec.ReadCallStart(new ReadOnlySequence<byte>(payload)));
    }

    [Fact]
    public void ReadCallStart_TrailingBytes_IsProtocolError()
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameWriter.WriteCallStart(writer, 1, "/a/b", -1, null);
        var payload = writer.WrittenSpan[FrameHeader.Size..].ToArray().Concat(new byte[] { 9 }).ToArray();
        Assert.Contains("left over", Assert.Throws<ProtocolException>(() => PayloadCodec.ReadCallStart(new ReadOnlySequence<byte>(payload))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadCallStart_PathWithoutSlash_IsProtocolError()
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameWriter.WriteCallStart(writer, 1, "nope", -1, null);
        Assert.Throws<ProtocolException>(() => PayloadCodec.ReadCallStart(new ReadOnlySequence<byte>(writer.WrittenMemory[FrameHeader.Size..])));
    }

    [Fact]
    public void ReadTrailers_StatusCodeOutOfRange_IsProtocolError()
    {
        var payload = new byte[10];
        BinaryPrimitives.WriteUInt32BigEndian(payload, 99);
        Assert.Contains("not a gRPC status code", Assert.Throws<ProtocolException>(() => PayloadCodec.ReadTrailers(new ReadOnlySequence<byte>(payload))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadMetadata_NonPrintableAsciiValue_IsProtocolError()
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameWriter.WriteResponseHeaders(writer, 1, new Metadata { { "k", "v" } });
        var payload = writer.WrittenSpan[FrameHeader.Size..].ToArray();
        payload[^1] = 0x07;
        Assert.Throws<ProtocolException>(() => PayloadCodec.ReadResponseHeaders(new ReadOnlySequence<byte>(payload)));
    }

    [Fact]
    public void ReadMetadata_InvalidKey_IsProtocolError()
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameWriter.WriteResponseHeaders(writer, 1, new Metadata { { "k", "v" } });
        var payload = writer.WrittenSpan[FrameHeader.Size..].ToArray();
        payload[4] = (byte)'K' + 60; // a byte gRPC does not allow in keys
        Assert.Throws<ProtocolException>(() => PayloadCodec.ReadResponseHeaders(new ReadOnlySequence<byte>(payload)));
    }

    [Fact]
    public void ReadWindowUpdate_Zero_IsProtocolError() =>
        Assert.Throws<ProtocolException>(() => PayloadCodec.ReadWindowUpdate(new ReadOnlySequence<byte>(new byte[4])));

    [Fact]
    public void ReadSettings_OutOfRange_IsProtocolError()
    {
        var payload = new byte[6];
        BinaryPrimitives.WriteUInt16BigEndian(payload, 1);
        BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan(2), 100);
        Assert.Contains("MaxFrameSize", Assert.Throws<ProtocolException>(() => ConnectionSettings.Read(new ReadOnlySequence<byte>(payload))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadSettings_UnknownId_IsIgnored()
    {
        var payload = new byte[6];
        BinaryPrimitives.WriteUInt16BigEndian(payload, 99);
        Assert.Equal(new ConnectionSettings(), ConnectionSettings.Read(new ReadOnlySequence<byte>(payload)));
    }

    [Fact]
    public void Preface_FromHttp2Client_NamedAsSuch() =>
        Assert.Contains("HTTP/2", Assert.Throws<ProtocolException>(() => Preface.Validate(new ReadOnlySequence<byte>("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray()))).Message, StringComparison.Ordinal);

    [Fact]
    public void Preface_OtherVersion_Refused()
    {
        var bytes = "RPCIPC\0\u0002"u8.ToArray();
        Assert.Contains("Unsupported protocol version 2", Assert.Throws<ProtocolException>(() => Preface.Validate(new ReadOnlySequence<byte>(bytes))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Preface_Garbage_ShowsWhatArrived() =>
        Assert.Contains("not an Rpc endpoint", Assert.Throws<ProtocolException>(() => Preface.Validate(new ReadOnlySequence<byte>("hello!!!"u8.ToArray()))).Message, StringComparison.Ordinal);

    private static (FrameHeader Header, ReadOnlySequence<byte> Payload) RoundTrip(Action<IBufferWriter<byte>> write)
    {
        var writer = new ArrayBufferWriter<byte>();
        write(writer);
        var buffer = Segmented(writer.WrittenSpan.ToArray(), 7);
        Assert.True(FrameReader.TryReadFrame(ref buffer, MaxFrame, out var header, out var payload));
        Assert.True(buffer.IsEmpty);
        return (header, payload);
    }

    internal static byte[] Frame(FrameType type, byte flags, uint streamId, byte[] payload)
    {
        var bytes = new byte[FrameHeader.Size + payload.Length];
        new FrameHeader(payload.Length, type, flags, streamId).Write(bytes);
        payload.CopyTo(bytes, FrameHeader.Size);
        return bytes;
    }

    private static ProtocolException ReadError(byte[] bytes) => ReadErrorOrNull(bytes) ?? throw new Xunit.Sdk.XunitException("No protocol error.");

    private static ProtocolException? ReadErrorOrNull(byte[] bytes)
    {
        var buffer = new ReadOnlySequence<byte>(bytes);
        try
        {
            FrameReader.TryReadFrame(ref buffer, MaxFrame, out _, out _);
            return null;
        }
        catch (ProtocolException ex)
        {
            return ex;
        }
    }

    /// <summary>Cuts bytes into a multi-segment sequence, so readers cannot assume one span.</summary>
    private static ReadOnlySequence<byte> Segmented(byte[] bytes, int segmentSize)
    {
        Segment? first = null;
        Segment? last = null;
        for (var offset = 0; offset < bytes.Length; offset += segmentSize)
        {
            var memory = bytes.AsMemory(offset, Math.Min(segmentSize, bytes.Length - offset));
            if (first is null)
            {
                first = last = new Segment(memory, 0);
            }
            else
            {
                last = last!.Append(memory);
            }
        }

        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

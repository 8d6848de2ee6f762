using System.Buffers;
using System.IO.Compression;
using Grpc.Core;
using Rpc.Transports.Compression;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Compression;

/// <summary>The bounds of decompression and the COMPRESSED flag's framing rules.</summary>
public sealed class MessageCompressionTests
{
    private static IncomingMessage Incoming(byte[] bytes)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(bytes.Length);
        bytes.CopyTo(buffer, 0);
        return new IncomingMessage(buffer, bytes.Length, compressed: true);
    }

    private static Stream Gunzip(Stream stream, object? state) => new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true);

    [Fact]
    public void Decompress_GzipBomb_FailsResourceExhaustedHavingAllocatedAboutTwiceTheLimit()
    {
        const int limit = 4 * 1024 * 1024;
        var bomb = TestCompressionProviders.GzipBomb.Value;
        var message = Incoming(bomb);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<RpcException>(() => MessageCompression.Decompress<object?>(message, limit, null, Gunzip));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        // The bomb claims 256 MiB; reading it stops one byte past the 4 MiB limit.
        Assert.True(allocated < 6L * limit, $"Decompressing the bomb allocated {allocated} bytes for a {limit}-byte limit.");
    }

    [Fact]
    public void Decompress_MessageExactlyAtTheLimit_IsWhole()
    {
        const int limit = 100_000;
        var original = new byte[limit];
        new Random(1).NextBytes(original.AsSpan(0, limit / 2));
        var compressed = MessageCompression.Compress<object?>(original, null, static (s, _) => new GZipStream(s, CompressionLevel.Fastest, leaveOpen: true));

        var message = MessageCompression.Decompress<object?>(Incoming(compressed.Payload.ToArray()), limit, null, Gunzip);
        compressed.Release();

        Assert.Equal(limit, message.Length);
        Assert.True(original.AsSpan().SequenceEqual(message.Buffer.AsSpan(0, message.Length)));
        message.Release();
    }

    [Fact]
    public void Decompress_CorruptBytes_FailsInternal()
    {
        var ex = Assert.Throws<RpcException>(() => MessageCompression.Decompress<object?>(Incoming([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 1000, null, Gunzip));

        Assert.Equal(StatusCode.Internal, ex.StatusCode);
    }

    [Fact]
    public void ReadFrame_CompressedWithEndMessage_IsAccepted()
    {
        var frame = new byte[FrameHeader.Size + 3];
        new FrameHeader(3, FrameType.Message, (byte)(FrameFlags.EndMessage | FrameFlags.Compressed), 1).Write(frame);
        var buffer = new ReadOnlySequence<byte>(frame);

        Assert.True(FrameReader.TryReadFrame(ref buffer, 16384, out var header, out _));
        Assert.True(header.HasFlag(FrameFlags.Compressed));
    }

    [Fact]
    public void ReadFrame_CompressedWithoutEndMessage_IsAProtocolError()
    {
        var frame = new byte[FrameHeader.Size + 3];
        new FrameHeader(3, FrameType.Message, FrameFlags.Compressed, 1).Write(frame);
        var buffer = new ReadOnlySequence<byte>(frame);

        var ex = Assert.Throws<ProtocolException>(() => FrameReader.TryReadFrame(ref buffer, 16384, out _, out _));
        Assert.Contains("COMPRESSED without END_MESSAGE", ex.Message, StringComparison.Ordinal);
    }
}

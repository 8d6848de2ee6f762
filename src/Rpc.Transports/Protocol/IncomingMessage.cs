using System.Buffers;
using Rpc.Transports.Protocol.Mapping;

namespace Rpc.Transports.Protocol;

/// <summary>
/// A whole received message: in a pooled array, or in a region of the peer's mapped here (a large
/// message, docs/mapped-payloads.md). Whoever takes it from the stream calls <see cref="Release"/>
/// once it is deserialized: that returns the array, or lets the peer reuse the region.
/// </summary>
internal readonly struct IncomingMessage
{
    private readonly IncomingRegion? _region;

    public IncomingMessage(byte[] buffer, int length, bool compressed = false)
    {
        Buffer = buffer;
        Length = length;
        Compressed = compressed;
    }

    public IncomingMessage(IncomingRegion region, int length, bool compressed)
    {
        _region = region;
        Buffer = [];
        Length = length;
        Compressed = compressed;
    }

    /// <summary>The pooled array; empty for a mapped message.</summary>
    public byte[] Buffer { get; }

    public int Length { get; }

    /// <summary>Whether the sender compressed it (the COMPRESSED flag): it must be decompressed before it is deserialized.</summary>
    public bool Compressed { get; }

    /// <summary>
    /// The bytes it took of the stream's flow-control window, which reading it gives back: its
    /// length, or none for a mapped message (only its small reference frame crossed the stream).
    /// </summary>
    public int FlowControlledLength => _region is null ? Length : 0;

    public ReadOnlySequence<byte> Payload => _region is { } region ? region.GetPayload(Length) : new(Buffer, 0, Length);

    /// <summary>The bytes as a read-only stream, for a decompressor.</summary>
    public Stream OpenRead() => _region is { } region ? region.OpenRead(Length) : new MemoryStream(Buffer, 0, Length, writable: false);

    public void Release()
    {
        if (_region is { } region)
        {
            region.Release();
        }
        else
        {
            ArrayPool<byte>.Shared.Return(Buffer);
        }
    }
}

using System.Buffers;
using Rpc.Transports.Protocol.Mapping;

namespace Rpc.Transports.Messages;

/// <summary>
/// A serialized message, usually in a pooled array its sender releases once it is written; a large
/// one may lie in a mapped region instead (docs/mapped-payloads.md), which the stream sends as it is.
/// </summary>
internal readonly struct SerializedMessage
{
    private readonly byte[]? _rented;
    private readonly OutgoingRegion? _region;
    private readonly int _acquisition;

    public SerializedMessage(ReadOnlyMemory<byte> payload, byte[]? rented)
    {
        Payload = payload;
        _rented = rented;
    }

    public SerializedMessage(OutgoingRegion region, int acquisition, int length)
    {
        _region = region;
        _acquisition = acquisition;
        Payload = region.Memory[..length];
    }

    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>
    /// Returns the array to the pool, or lets go of a region the message was never sent through
    /// (sending hands the region to the stream, after which this is a no-op); <see cref="Payload"/>
    /// is no longer valid.
    /// </summary>
    public void Release()
    {
        if (_rented is not null)
        {
            ArrayPool<byte>.Shared.Return(_rented);
        }
        else if (_region is { } region)
        {
            region.Owner.Abandon(region, _acquisition);
        }
    }
}

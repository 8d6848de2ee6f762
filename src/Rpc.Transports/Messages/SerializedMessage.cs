using System.Buffers;

namespace Rpc.Transports.Messages;

/// <summary>A serialized message, usually in a pooled array its sender releases once it is written.</summary>
internal readonly struct SerializedMessage
{
    private readonly byte[]? _rented;

    public SerializedMessage(ReadOnlyMemory<byte> payload, byte[]? rented)
    {
        Payload = payload;
        _rented = rented;
    }

    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>Returns the array to the pool; <see cref="Payload"/> is no longer valid.</summary>
    public void Release()
    {
        if (_rented is not null)
        {
            ArrayPool<byte>.Shared.Return(_rented);
        }
    }
}

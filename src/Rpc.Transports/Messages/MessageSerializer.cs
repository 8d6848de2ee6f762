using System.Buffers;
using Grpc.Core;

namespace Rpc.Transports.Messages;

/// <summary>
/// Receives a serialized message through the marshaller's buffer API into a pooled array. One
/// instance serves a call for all its messages; <see cref="Reset"/> returns the array between them.
/// </summary>
internal sealed class MessageSerializer : SerializationContext, IBufferWriter<byte>
{
    internal const string SendTooLarge = "Sending message exceeds the maximum configured message size.";

    private byte[]? _buffer;
    private int _written;
    private byte[]? _completed;

    /// <summary>The serialized bytes of the last message.</summary>
    public ReadOnlyMemory<byte> Payload => _completed ?? (_buffer is null ? ReadOnlyMemory<byte>.Empty : _buffer.AsMemory(0, _written));

    /// <summary>Serializes <paramref name="message"/>; throws ResourceExhausted above <paramref name="maxSize"/>.</summary>
    public ReadOnlyMemory<byte> Serialize<T>(Marshaller<T> marshaller, T message, int maxSize)
    {
        Reset();
        marshaller.ContextualSerializer(message, this);
        var payload = Payload;
        if (payload.Length > maxSize)
        {
            Reset();
            throw new RpcException(new Status(StatusCode.ResourceExhausted, SendTooLarge));
        }

        return payload;
    }

    public override void Complete(byte[] payload) => _completed = payload;

    public override void Complete()
    {
    }

    public override IBufferWriter<byte> GetBufferWriter() => this;

    public override void SetPayloadLength(int payloadLength) => EnsureCapacity(payloadLength);

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        EnsureCapacity(_written + Math.Max(sizeHint, 1));
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        EnsureCapacity(_written + Math.Max(sizeHint, 1));
        return _buffer.AsSpan(_written);
    }

    /// <summary>Gives the pooled array back; the last payload is no longer valid.</summary>
    public void Reset()
    {
        _completed = null;
        _written = 0;
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void EnsureCapacity(int needed)
    {
        if (_buffer is not null && _buffer.Length >= needed)
        {
            return;
        }

        var grown = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer is null ? 256 : _buffer.Length * 2));
        if (_buffer is not null)
        {
            _buffer.AsSpan(0, _written).CopyTo(grown);
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        _buffer = grown;
    }
}

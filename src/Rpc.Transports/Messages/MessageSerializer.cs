using System.Buffers;
using Grpc.Core;

namespace Rpc.Transports.Messages;

/// <summary>
/// Receives a serialized message through the marshaller's buffer API into a pooled array. The
/// context object is reused by its thread (a marshaller serializes synchronously); the array it
/// filled leaves with the <see cref="SerializedMessage"/>, which its sender releases.
/// </summary>
internal sealed class MessageSerializer : SerializationContext, IBufferWriter<byte>
{
    [ThreadStatic]
    private static MessageSerializer? t_cached;

    private byte[]? _buffer;
    private int _written;
    private byte[]? _completed;

    private MessageSerializer()
    {
    }

    /// <summary>
    /// Serializes <paramref name="message"/>; throws ResourceExhausted above <paramref name="maxSize"/>,
    /// naming both sizes and whose limit it is (<paramref name="limitOwner"/>, e.g. "client", and the
    /// option that sets it, <paramref name="limitOption"/>).
    /// </summary>
    public static SerializedMessage Serialize<T>(Marshaller<T> marshaller, T message, int maxSize, string limitOwner, string limitOption)
    {
        // A marshaller that serializes another message from inside gets a context of its own.
        var context = t_cached ?? new MessageSerializer();
        t_cached = null;
        try
        {
            marshaller.ContextualSerializer(message, context);
            var serialized = context.Detach();
            if (serialized.Payload.Length > maxSize)
            {
                var size = serialized.Payload.Length;
                serialized.Release();
                throw new RpcException(new Status(StatusCode.ResourceExhausted,
                    $"Sending message of {size} bytes exceeds the {limitOwner}'s send limit of {maxSize} bytes ({limitOption})."));
            }

            return serialized;
        }
        finally
        {
            context.Reset();
            t_cached = context;
        }
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

    private SerializedMessage Detach()
    {
        if (_completed is { } completed)
        {
            return new SerializedMessage(completed, rented: null);
        }

        if (_buffer is not { } buffer)
        {
            return default;
        }

        var serialized = new SerializedMessage(buffer.AsMemory(0, _written), rented: buffer);
        _buffer = null;
        return serialized;
    }

    private void Reset()
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

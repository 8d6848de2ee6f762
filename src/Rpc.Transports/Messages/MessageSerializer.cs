using System.Buffers;
using Grpc.Core;
using Rpc.Transports.Protocol.Mapping;

namespace Rpc.Transports.Messages;

/// <summary>
/// Receives a serialized message through the marshaller's buffer API into a pooled array, or, for a
/// large message whose size the marshaller announces, straight into a mapped region of the
/// connection it will be sent on (docs/mapped-payloads.md): no copy between serializing and the
/// peer's parse. The
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
    private OutgoingRegions? _regions;
    private OutgoingRegion? _region;
    private int _acquisition;

    private MessageSerializer()
    {
    }

    /// <summary>
    /// Serializes <paramref name="message"/>; throws ResourceExhausted above <paramref name="maxSize"/>,
    /// naming both sizes and whose limit it is (<paramref name="limitOwner"/>, e.g. "client", and the
    /// option that sets it, <paramref name="limitOption"/>). A message of at least the threshold of
    /// <paramref name="regions"/> (when given) is written straight into one of them.
    /// </summary>
    public static SerializedMessage Serialize<T>(Marshaller<T> marshaller, T message, int maxSize, string limitOwner, string limitOption, OutgoingRegions? regions = null)
    {
        // A marshaller that serializes another message from inside gets a context of its own.
        var context = t_cached ?? new MessageSerializer();
        t_cached = null;
        try
        {
            context._regions = regions;
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

    public override void SetPayloadLength(int payloadLength)
    {
        if (_regions is { } regions && payloadLength >= regions.Threshold && _written == 0 && _buffer is null && _region is null
            && regions.TryAcquire(payloadLength) is { } region)
        {
            _region = region;
            _acquisition = region.Acquisition;
            return;
        }

        EnsureCapacity(payloadLength);
    }

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (_region is { } region && _written + Math.Max(sizeHint, 1) <= region.Size)
        {
            return region.Memory[_written..];
        }

        EnsureCapacity(_written + Math.Max(sizeHint, 1));
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        if (_region is { } region && _written + Math.Max(sizeHint, 1) <= region.Size)
        {
            return region.GetSpan()[_written..];
        }

        EnsureCapacity(_written + Math.Max(sizeHint, 1));
        return _buffer.AsSpan(_written);
    }

    private SerializedMessage Detach()
    {
        if (_completed is { } completed)
        {
            return new SerializedMessage(completed, rented: null);
        }

        if (_region is { } region)
        {
            _region = null;
            return new SerializedMessage(region, _acquisition, _written);
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
        _regions = null;
        if (_region is { } region)
        {
            // Serialization failed (or wrote a whole array instead): the region was never handed on.
            _region = null;
            region.Owner.Abandon(region, _acquisition);
        }

        _written = 0;
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void EnsureCapacity(int needed)
    {
        if (_region is { } region)
        {
            // The marshaller wrote past the size it announced: what is in the region moves to an array.
            _region = null;
            _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _written * 2));
            region.GetSpan(_written).CopyTo(_buffer);
            region.Owner.Abandon(region, _acquisition);
            return;
        }

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

using System.Buffers;
using Grpc.Core;
using Rpc.Transports.Protocol;

namespace Rpc.Transports.Messages;

/// <summary>Hands a received message to the marshaller as a sequence over its pooled array.</summary>
internal sealed class MessageDeserializer : DeserializationContext
{
    private IncomingMessage _message;

    public override int PayloadLength => _message.Length;

    public override byte[] PayloadAsNewBuffer() => _message.Payload.ToArray();

    public override ReadOnlySequence<byte> PayloadAsReadOnlySequence() => _message.Payload;

    /// <summary>Deserializes and releases <paramref name="message"/>; a marshaller failure is Internal.</summary>
    public T Deserialize<T>(Marshaller<T> marshaller, IncomingMessage message)
    {
        _message = message;
        try
        {
            return marshaller.ContextualDeserializer(this);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw new RpcException(new Status(StatusCode.Internal, "Failed to deserialize message.", ex));
        }
        finally
        {
            _message = default;
            message.Release();
        }
    }
}

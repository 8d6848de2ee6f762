using System.Buffers;
using Grpc.Core;
using Rpc.Transports.Protocol;

namespace Rpc.Transports.Messages;

/// <summary>
/// Hands a received message to the marshaller as a sequence over its pooled array. The context
/// object is reused by its thread: a marshaller deserializes synchronously.
/// </summary>
internal sealed class MessageDeserializer : DeserializationContext
{
    [ThreadStatic]
    private static MessageDeserializer? t_cached;

    private IncomingMessage _message;

    private MessageDeserializer()
    {
    }

    public override int PayloadLength => _message.Length;

    public override byte[] PayloadAsNewBuffer() => _message.Payload.ToArray();

    public override ReadOnlySequence<byte> PayloadAsReadOnlySequence() => _message.Payload;

    /// <summary>Deserializes and releases <paramref name="message"/>; a marshaller failure is Internal.</summary>
    public static T Deserialize<T>(Marshaller<T> marshaller, IncomingMessage message)
    {
        // A marshaller that deserializes another message from inside gets a context of its own.
        var context = t_cached ?? new MessageDeserializer();
        t_cached = null;
        context._message = message;
        try
        {
            return marshaller.ContextualDeserializer(context);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw new RpcException(new Status(StatusCode.Internal, "Failed to deserialize message.", ex));
        }
        finally
        {
            context._message = default;
            t_cached = context;
            message.Release();
        }
    }
}

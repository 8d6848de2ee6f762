using Grpc.Core;
using Rpc.Transports.Messages;

namespace Rpc.Server.Internal;

/// <summary>Serializes a response within the server's send limit, and says by how much it missed.</summary>
internal static class ResponseSerializer
{
    /// <exception cref="RpcException">ResourceExhausted: the message is larger than <paramref name="limit"/>; the detail gives both sizes.</exception>
    public static SerializedMessage Serialize<T>(Marshaller<T> marshaller, T message, int limit)
    {
        var serialized = MessageSerializer.Serialize(marshaller, message, int.MaxValue);
        if (serialized.Payload.Length > limit)
        {
            var size = serialized.Payload.Length;
            serialized.Release();
            throw new RpcException(new Status(StatusCode.ResourceExhausted,
                $"Sending message of {size} bytes exceeds the server's send limit of {limit} bytes (RpcServerOptions.MaxSendMessageSize)."));
        }

        return serialized;
    }
}

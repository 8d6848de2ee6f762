using Grpc.Core;
using Rpc.Transports.Messages;

namespace Rpc.Client.Internal;

/// <summary>Serializes a request within the channel's send limit, and says by how much it missed.</summary>
internal static class RequestSerializer
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
                $"Sending message of {size} bytes exceeds the client's send limit of {limit} bytes (RpcChannelOptions.MaxSendMessageSize)."));
        }

        return serialized;
    }
}

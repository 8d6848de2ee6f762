using Grpc.Core;

namespace Rpc.Transports.Protocol;

/// <summary>A stream ended abnormally: cancelled by the peer, refused, or its connection died.</summary>
internal sealed class StreamResetException : Exception
{
    public StreamResetException(Status status) : base(status.Detail)
    {
        Status = status;
    }

    public Status Status { get; }
}

using Grpc.Core;

namespace Rpc.Transports.Protocol;

/// <summary>
/// What one step of a call sends, in wire order: call start or response headers, at most one
/// message, then half-close or trailers. Sending them together puts a whole unary request or
/// response on the wire in one write.
/// </summary>
internal struct OutgoingFrames
{
    /// <summary>Client: the method path; set means "start the call".</summary>
    public string? Method;

    public long TimeoutMicroseconds;

    /// <summary>Client: request headers. Server: response headers (sent only when <see cref="SendHeaders"/>).</summary>
    public Metadata? Headers;

    public bool SendHeaders;

    public ReadOnlyMemory<byte> Message;

    public bool HasMessage;

    /// <summary><see cref="Message"/> is compressed with the call's <c>grpc-encoding</c>: its last frame carries COMPRESSED.</summary>
    public bool MessageCompressed;

    /// <summary>Client: no more messages follow.</summary>
    public bool EndStream;

    /// <summary>Server: the call's status; set means "end the call".</summary>
    public Status? TrailersStatus;

    public Metadata? Trailers;

    public static OutgoingFrames ForMessage(ReadOnlyMemory<byte> message) => new() { Message = message, HasMessage = true };
}

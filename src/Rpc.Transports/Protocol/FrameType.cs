namespace Rpc.Transports.Protocol;

/// <summary>Frame types of protocol version 1; see docs/protocol.md.</summary>
internal enum FrameType : byte
{
    Settings = 0x0,
    Headers = 0x1,
    Message = 0x2,
    HalfClose = 0x3,
    Trailers = 0x4,
    Cancel = 0x5,
    Ping = 0x6,
    GoAway = 0x7,
    WindowUpdate = 0x8,

    /// <summary>A whole message that lies in a mapped region (docs/mapped-payloads.md).</summary>
    MessageRef = 0x9,

    /// <summary>Stream 0: the receiver parsed the message in a region; the sender may reuse it.</summary>
    RegionRelease = 0xA,

    /// <summary>Stream 0: the sender will not reference a region again; the receiver unmaps it.</summary>
    RegionDrop = 0xB,
}

/// <summary>Flag bits; each is valid only on the frame types named.</summary>
internal static class FrameFlags
{
    public const byte None = 0;

    /// <summary>MESSAGE: the last fragment of a message.</summary>
    public const byte EndMessage = 0x1;

    /// <summary>MESSAGE: the sender half-closes after this message.</summary>
    public const byte EndStream = 0x2;

    /// <summary>
    /// MESSAGE: the message this frame ends is compressed with the call's <c>grpc-encoding</c>
    /// (docs/compression.md). Only on a frame with <see cref="EndMessage"/>: the receiver learns it
    /// when the message is whole, which is when it can act on it.
    /// </summary>
    public const byte Compressed = 0x4;

    /// <summary>MESSAGE_REF: the reference announces its region, whose descriptor is the next one the peer takes.</summary>
    public const byte NewRegion = 0x8;

    /// <summary>PING: the answer to a ping.</summary>
    public const byte Ack = 0x1;
}

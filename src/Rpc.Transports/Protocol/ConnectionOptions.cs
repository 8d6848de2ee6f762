using System.Buffers;

namespace Rpc.Transports.Protocol;

/// <summary>What one side of a connection is configured with.</summary>
internal sealed record ConnectionOptions
{
    public const int DefaultMaxMessageSize = 4 * 1024 * 1024;

    public const long DefaultOutputHighWaterMark = 1024 * 1024;

    public const int DefaultMaxPendingControlReplies = 64;

    public ConnectionSettings Settings { get; init; } = new();

    public int MaxReceiveMessageSize { get; init; } = DefaultMaxMessageSize;

    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long closing a connection lets what was written reach the peer before the transport is
    /// torn down: a peer that stopped reading must not hold a shutdown or a dispose forever.
    /// </summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Unsent output above which call data waits (the read loop's control frames never do), so a
    /// peer that stops reading holds at most about this much of this side's memory per connection.
    /// </summary>
    public long OutputHighWaterMark { get; init; } = DefaultOutputHighWaterMark;

    /// <summary>
    /// Replies the peer makes this side write (PING acks, refusals) while the output is above its
    /// high-water mark; beyond it the peer is asking without reading and the connection closes.
    /// </summary>
    public int MaxPendingControlReplies { get; init; } = DefaultMaxPendingControlReplies;

    /// <summary>Where multi-frame messages are assembled; a seam for tests that check every array comes back once.</summary>
    public ArrayPool<byte> AssemblyPool { get; init; } = ArrayPool<byte>.Shared;
}

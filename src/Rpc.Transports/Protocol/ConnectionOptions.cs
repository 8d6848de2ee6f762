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

    /// <summary>
    /// Bytes of mapped regions (docs/mapped-payloads.md) this side maps of the peer's at once, and
    /// makes of its own at most, on a connection whose medium passes descriptors; 0 turns mapping off.
    /// 256 MiB: a message at the largest limit a user is likely to set, plus a window of 1 MiB ones.
    /// </summary>
    public int MappedPayloadLimit { get; init; } = DefaultMappedPayloadLimit;

    public const int DefaultMappedPayloadLimit = 256 * 1024 * 1024;

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

    /// <summary>
    /// Streams the peer may reset (CANCEL before its call finished) or have refused at once before
    /// the rate below applies. With <see cref="ResetsPerSecond"/> it tells a rapid-reset attack
    /// (hundreds of thousands a second) from a client that cancels: see docs/protocol.md.
    /// </summary>
    public int ResetBurst { get; init; } = 1000;

    /// <summary>The sustained rate of resets and refusals allowed once the burst is spent; beyond it the connection closes with GOAWAY.</summary>
    public double ResetsPerSecond { get; init; } = 500;

    /// <summary>
    /// A connection with no open stream for this long is closed with GOAWAY (checked once per
    /// period, so it closes between one and two periods after its last stream ended). Off by
    /// default (<see cref="Timeout.InfiniteTimeSpan"/>), as grpc-dotnet's server keeps idle
    /// connections: local IPC connections are cheap, and a client pool reuses them.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = Timeout.InfiniteTimeSpan;

    /// <summary>
    /// With nothing received for this long, a PING goes out; off by default
    /// (<see cref="Timeout.InfiniteTimeSpan"/>), as in grpc-dotnet and Kestrel.
    /// </summary>
    public TimeSpan KeepAlivePingDelay { get; init; } = Timeout.InfiniteTimeSpan;

    /// <summary>How long the keepalive PING's ack (or any frame) may take before the connection is aborted.</summary>
    public TimeSpan KeepAlivePingTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Whether the streams' readers (and the client's response-headers waiters) resume on the
    /// connection's read loop instead of the thread pool: <c>UnsafePreferInlineScheduling</c>. A
    /// continuation that blocks then stalls every call of this connection, and only of this one.
    /// </summary>
    public bool InlineContinuations { get; init; }

    /// <summary>The clock the reset budget and idle timeout run on; a seam for tests that simulate time.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Where multi-frame messages are assembled; a seam for tests that check every array comes back once.</summary>
    public ArrayPool<byte> AssemblyPool { get; init; } = ArrayPool<byte>.Shared;
}

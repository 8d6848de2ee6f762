using System.Buffers;

namespace Rpc.Transports.Protocol;

/// <summary>What one side of a connection is configured with.</summary>
internal sealed record ConnectionOptions
{
    public const int DefaultMaxMessageSize = 4 * 1024 * 1024;

    public ConnectionSettings Settings { get; init; } = new();

    public int MaxReceiveMessageSize { get; init; } = DefaultMaxMessageSize;

    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long closing a connection lets what was written reach the peer before the transport is
    /// torn down: a peer that stopped reading must not hold a shutdown or a dispose forever.
    /// </summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Where multi-frame messages are assembled; a seam for tests that check every array comes back once.</summary>
    public ArrayPool<byte> AssemblyPool { get; init; } = ArrayPool<byte>.Shared;
}

namespace Rpc.Transports.Sockets;

/// <summary>Settings of the Unix domain socket transport.</summary>
public sealed class UnixSocketTransportOptions
{
    private int _maxBufferSize = 1024 * 1024;
    private int _mappedPayloadThreshold = MappedPayloads.DefaultThreshold;
    private TimeSpan _spinDuration = Internal.SpinLimits.DefaultSpin;

    /// <summary>
    /// Permissions of the socket file a listener creates. Default: owner read and write only (0600),
    /// so only the same user can connect.
    /// </summary>
    public UnixFileMode SocketFileMode { get; set; } = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// How long a connection's receive thread keeps asking the socket for bytes without sleeping
    /// before it sleeps in poll(2). A reply that comes within the spin then costs no sleep and no
    /// wake-up, which are most of a local round trip (unary p50 33 → 17 µs, below the blocking
    /// ping-pong's 21 µs); it is bounded, so an idle connection uses no CPU. Default: 50 µs;
    /// <see cref="TimeSpan.Zero"/> sleeps at once, for a machine where cores are scarcer than time.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set below zero or above 100 ms.</exception>
    public TimeSpan SpinDuration
    {
        get => _spinDuration;
        set => _spinDuration = Internal.SpinLimits.Check(value, "UnixSocketTransportOptions.SpinDuration");
    }

    /// <summary>Pending connections the kernel queues before accept. Default: 512.</summary>
    public int Backlog { get; set; } = 512;

    /// <summary>
    /// Bytes a connection buffers in each direction before its writer waits. Default: 1 MiB,
    /// enough to keep one large message moving while the other side copies the last one.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set below one maximum-size frame plus its header (262,154 bytes), which would stall a connection.</exception>
    public int MaxBufferSize
    {
        get => _maxBufferSize;
        set => _maxBufferSize = Internal.BufferLimits.CheckMaxBufferSize(value, "UnixSocketTransportOptions.MaxBufferSize");
    }

    /// <summary>
    /// The smallest message a connection sends through a memory-mapped region instead of the byte
    /// stream: the message is copied once into a sealed <c>memfd</c> region whose descriptor travels
    /// to the peer with <c>SCM_RIGHTS</c>, the receiver maps it read-only and parses from it, and the
    /// stream carries only a small reference frame (docs/mapped-payloads.md). Linux only: elsewhere a
    /// connection never maps. Default: 128 KiB (131,072 bytes); from 4,096 bytes up, and
    /// <see cref="int.MaxValue"/> means never map.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set below 4,096 bytes.</exception>
    public int MappedPayloadThreshold
    {
        get => _mappedPayloadThreshold;
        set => _mappedPayloadThreshold = MappedPayloads.CheckThreshold(value, "UnixSocketTransportOptions.MappedPayloadThreshold");
    }
}

namespace Rpc.Transports.Sockets;

/// <summary>Settings of the Unix domain socket transport.</summary>
public sealed class UnixSocketTransportOptions
{
    private int _maxBufferSize = 1024 * 1024;

    /// <summary>
    /// Permissions of the socket file a listener creates. Default: owner read and write only (0600),
    /// so only the same user can connect.
    /// </summary>
    public UnixFileMode SocketFileMode { get; set; } = UnixFileMode.UserRead | UnixFileMode.UserWrite;

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
}

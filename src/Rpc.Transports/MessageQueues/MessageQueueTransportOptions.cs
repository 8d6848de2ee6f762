namespace Rpc.Transports.MessageQueues;

/// <summary>Settings of the message-queue transport; see docs/message-queues.md.</summary>
public sealed class MessageQueueTransportOptions
{
    /// <summary>
    /// Bytes in one queue message, the size frames are cut to. Capped at run time by
    /// fs.mqueue.msgsize_max. Default: 8 KiB (Linux's default cap).
    /// </summary>
    public int MessageSize { get; set; } = 8 * 1024;

    /// <summary>
    /// Messages each direction's queue holds before the sender waits. Capped at run time by
    /// fs.mqueue.msg_max and lowered until a connection's two queues fit in RLIMIT_MSGQUEUE.
    /// Default: 4, so that Linux's default 800 KiB of queues per user carries a dozen connections.
    /// </summary>
    public int MaxMessages { get; set; } = 4;

    /// <summary>
    /// Where the rendezvous sockets live. Default: <see langword="null"/>, meaning this user's private
    /// directory, as for <c>shm://</c> (see <see cref="SharedMemory.SharedMemoryTransportOptions.RendezvousDirectory"/>).
    /// </summary>
    public string? RendezvousDirectory { get; set; }

    /// <summary>How long setting up a connection's queues may take. Default: 5 s.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>As for shared memory: tests play a peer of another user without root.</summary>
    internal uint? UserIdOverride { get; set; }
}

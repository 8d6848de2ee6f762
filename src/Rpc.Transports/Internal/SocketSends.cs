using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Rpc.Transports.Internal;

/// <summary>
/// Sends on a stream socket without ever handing it to the runtime's socket engine: a send that
/// finds the buffer full waits on <see cref="WritableWaiter"/> instead of going pending in
/// <c>Socket.SendAsync</c>.
/// </summary>
/// <remarks>
/// Why not <c>Socket.SendAsync</c>: the first send of it that goes pending registers the socket with
/// the runtime's epoll thread for the socket's life. From then on every arriving message also wakes
/// that thread, which queues a work item to the thread pool, and the pool's workers spin. On two
/// cores this took the core from the receive threads: bidi ping-pong on unix:// measured 158–166 µs
/// after a streaming scenario had once filled the socket's buffer, against 16–18 µs alone, with
/// about 3,900 epoll_wait and 18–20k sched_yield per process in 2 s against none.
/// </remarks>
internal static unsafe partial class SocketSends
{
    private const int MsgDontWait = 0x40; // MSG_DONTWAIT
    private const int MsgNoSignal = 0x4000; // MSG_NOSIGNAL
    private const int EAgain = 11;
    private const int EIntr = 4;

    /// <summary>Whether sends here go through <see cref="Send"/> and <see cref="WritableWaiter"/> (Linux).</summary>
    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>
    /// Sends what the socket's buffer takes of <paramref name="data"/> now: the bytes sent, at least
    /// one, or -1 when the buffer is full.
    /// </summary>
    /// <exception cref="IOException">The socket failed (the peer is gone, say).</exception>
    /// <exception cref="ObjectDisposedException">The connection closed the socket.</exception>
    public static int Send(SafeHandle socket, ReadOnlySpan<byte> data)
    {
        var added = false;
        try
        {
            // The reference keeps the descriptor from being closed and reused while the call runs.
            socket.DangerousAddRef(ref added);
            fixed (byte* pointer = data)
            {
                while (true)
                {
                    var sent = SendNative((int)socket.DangerousGetHandle(), pointer, (nuint)data.Length, MsgDontWait | MsgNoSignal);
                    if (sent >= 0)
                    {
                        return (int)sent;
                    }

                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == EAgain)
                    {
                        return -1;
                    }

                    if (errno != EIntr)
                    {
                        throw new IOException($"send failed: {new Win32Exception(errno).Message} (errno {errno}).");
                    }
                }
            }
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static partial nint SendNative(int socket, byte* data, nuint length, int flags);
}

using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Rpc.Transports.Internal;

/// <summary>
/// Passing open descriptors over a Unix stream socket (sendmsg/recvmsg with <c>SCM_RIGHTS</c>), and
/// the waits on such a socket that .NET does not offer. Linux layouts (64-bit <c>msghdr</c> and
/// <c>cmsghdr</c>, the same on x64 and Arm64); callers check <see cref="OperatingSystem.IsLinux"/>.
/// </summary>
/// <remarks>
/// Every call is non-blocking except the wait, which a shutdown of the socket from this side
/// ends (the socket then reports a hang-up), so a closing connection always frees its thread.
/// Each call holds a reference on the socket's handle, so the descriptor cannot be closed and
/// reused by another file while the system call runs.
/// </remarks>
internal static unsafe partial class DescriptorPassing
{
    /// <summary>
    /// Descriptors accepted with one message. The control buffer holds exactly this many, so a peer
    /// that sends more is seen (<c>MSG_CTRUNC</c>) rather than silently truncated.
    /// </summary>
    public const int MaxPerMessage = 16;

    // SCM_MAX_FD: the most the kernel lets one message carry.
    private const int MaxSendable = 253;

    private const int HeaderSize = 16; // sizeof(struct cmsghdr) on 64-bit Linux
    private const int SolSocket = 1;
    private const int ScmRights = 1;
    private const int MsgControlTruncated = 0x8; // MSG_CTRUNC
    private const int MsgDontWait = 0x40; // MSG_DONTWAIT
    private const int MsgNoSignal = 0x4000; // MSG_NOSIGNAL
    private const int MsgCmsgCloseOnExec = 0x40000000; // MSG_CMSG_CLOEXEC
    private const short PollReadHangUp = 0x2000; // POLLRDHUP
    private const int FionRead = 0x541B; // FIONREAD (SIOCINQ)
    private const int EAgain = 11;
    private const int EIntr = 4;

    /// <summary>
    /// Sends <paramref name="data"/> with <paramref name="descriptors"/> attached to its first byte,
    /// without waiting. Returns the bytes sent (at least one), or -1 when the socket's buffer is
    /// full (nothing was sent, the descriptors neither). The caller still owns the descriptors: the
    /// kernel took references of its own.
    /// </summary>
    /// <exception cref="IOException">The socket failed (the peer is gone, say).</exception>
    public static int Send(SafeHandle socket, ReadOnlySpan<byte> data, ReadOnlySpan<int> descriptors)
    {
        if (data.IsEmpty || descriptors.Length is 0 or > MaxSendable)
        {
            throw new ArgumentOutOfRangeException(nameof(descriptors), "A message carries 1 to 253 descriptors and at least one byte.");
        }

        var controlSize = Space(descriptors.Length);
        var control = stackalloc byte[controlSize];
        new Span<byte>(control, controlSize).Clear();
        *(long*)control = HeaderSize + (descriptors.Length * sizeof(int));
        *(int*)(control + 8) = SolSocket;
        *(int*)(control + 12) = ScmRights;
        descriptors.CopyTo(new Span<int>(control + HeaderSize, descriptors.Length));
        fixed (byte* dataPointer = data)
        {
            var vector = new IoVector { Base = (nint)dataPointer, Length = (nuint)data.Length };
            var message = new MessageHeader { Vector = (nint)(&vector), VectorCount = 1, Control = (nint)control, ControlLength = (nuint)controlSize };
            var added = false;
            nint sent;
            int errno;
            try
            {
                socket.DangerousAddRef(ref added);
                do
                {
                    sent = SendMessage((int)socket.DangerousGetHandle(), &message, MsgNoSignal | MsgDontWait);
                    errno = sent < 0 ? Marshal.GetLastPInvokeError() : 0;
                }
                while (errno == EIntr);
            }
            finally
            {
                if (added)
                {
                    socket.DangerousRelease();
                }
            }

            return sent >= 0 ? (int)sent : errno == EAgain ? -1 : throw Error("sendmsg", errno);
        }
    }

    /// <summary>
    /// Receives what is there into <paramref name="buffer"/>, without waiting, and the descriptors
    /// that came with it into <paramref name="descriptors"/> (opened close-on-exec; the caller owns
    /// them). Returns the bytes received, 0 at the end of the stream, or -1 when nothing is there.
    /// </summary>
    /// <exception cref="IOException">
    /// The socket failed, or the peer sent more descriptors with one message than
    /// <paramref name="descriptors"/> holds (those that arrived are closed here).
    /// </exception>
    public static int Receive(SafeHandle socket, Span<byte> buffer, Span<int> descriptors, out int count)
    {
        if (descriptors.Length is 0 or > MaxPerMessage)
        {
            throw new ArgumentOutOfRangeException(nameof(descriptors), "Room for 1 to 16 descriptors.");
        }

        var controlSize = Space(descriptors.Length);
        var control = stackalloc byte[controlSize];
        count = 0;
        fixed (byte* bufferPointer = buffer)
        {
            var vector = new IoVector { Base = (nint)bufferPointer, Length = (nuint)buffer.Length };
            var message = new MessageHeader { Vector = (nint)(&vector), VectorCount = 1, Control = (nint)control, ControlLength = (nuint)controlSize };
            var added = false;
            nint received;
            int errno;
            try
            {
                socket.DangerousAddRef(ref added);
                received = ReceiveMessage((int)socket.DangerousGetHandle(), &message, MsgDontWait | MsgCmsgCloseOnExec);
                errno = received < 0 ? Marshal.GetLastPInvokeError() : 0;
            }
            finally
            {
                if (added)
                {
                    socket.DangerousRelease();
                }
            }

            if (received < 0)
            {
                return errno is EAgain or EIntr ? -1 : throw Error("recvmsg", errno);
            }

            // Only after a message came with control data is the buffer's length worth parsing.
            if (message.ControlLength >= HeaderSize)
            {
                count = Collect(control, (long)message.ControlLength, descriptors);
            }

            if ((message.Flags & MsgControlTruncated) != 0 || count < 0)
            {
                for (var i = 0; i < Math.Abs(count); i++)
                {
                    Close(descriptors[i]);
                }

                count = 0;
                throw new IOException($"The peer passed more than {descriptors.Length} descriptor(s) with one message.");
            }

            return (int)received;
        }
    }

    /// <summary>
    /// Blocks until the peer of <paramref name="socket"/> ends its stream or goes, or this side shuts
    /// the socket down. Unlike a read, it consumes nothing: bytes and descriptors stay queued.
    /// </summary>
    /// <remarks>shutdown(2) of a Unix stream socket cannot fail, so a closing side always ends this wait.</remarks>
    public static void WaitHangUp(SafeHandle socket) => Wait(socket, PollReadHangUp);

    /// <summary>Bytes queued on <paramref name="socket"/> that nobody has received yet.</summary>
    public static int QueuedBytes(SafeHandle socket)
    {
        var added = false;
        try
        {
            socket.DangerousAddRef(ref added);
            var queued = 0;
            return IoControl((int)socket.DangerousGetHandle(), FionRead, &queued) < 0 ? throw Error("ioctl(FIONREAD)", Marshal.GetLastPInvokeError()) : queued;
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }

    /// <summary>Closes a received descriptor nobody took.</summary>
    public static void Close(int descriptor) => _ = CloseDescriptor(descriptor);

    // CMSG_SPACE: the header and the payload rounded up to 8 bytes.
    private static int Space(int descriptors) => HeaderSize + (((descriptors * sizeof(int)) + 7) & ~7);

    /// <summary>
    /// The SCM_RIGHTS descriptors in a control buffer the kernel filled, copied into
    /// <paramref name="descriptors"/>; the negated count when there were more than it holds.
    /// </summary>
    private static int Collect(byte* control, long length, Span<int> descriptors)
    {
        var count = 0;
        var overflow = false;
        for (var offset = 0L; offset + HeaderSize <= length;)
        {
            var messageLength = *(long*)(control + offset);
            if (messageLength < HeaderSize || offset + messageLength > length)
            {
                break;
            }

            if (*(int*)(control + offset + 8) == SolSocket && *(int*)(control + offset + 12) == ScmRights)
            {
                for (var at = (long)HeaderSize; at + sizeof(int) <= messageLength; at += sizeof(int))
                {
                    var descriptor = *(int*)(control + offset + at);
                    if (count < descriptors.Length)
                    {
                        descriptors[count++] = descriptor;
                    }
                    else
                    {
                        Close(descriptor);
                        overflow = true;
                    }
                }
            }

            offset += (messageLength + 7) & ~7L;
        }

        return overflow ? -count : count;
    }

    private static void Wait(SafeHandle socket, short events)
    {
        var added = false;
        try
        {
            socket.DangerousAddRef(ref added);
            var request = new PollRequest { Descriptor = (int)socket.DangerousGetHandle(), Events = events };
            // POLLHUP and POLLERR end the wait whatever was asked, which is how a shutdown frees it.
            while (Poll(&request, 1, -1) < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno != EIntr)
                {
                    throw Error("poll", errno);
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

    private static IOException Error(string what, int errno) =>
        new($"{what} failed: {new Win32Exception(errno).Message} (errno {errno}).");

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public nint Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
    {
        public nint Name;
        public int NameLength;
        public nint Vector;
        public nuint VectorCount;
        public nint Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollRequest
    {
        public int Descriptor;
        public short Events;
        public short ReturnedEvents;
    }

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    private static partial nint SendMessage(int socket, MessageHeader* message, int flags);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    private static partial nint ReceiveMessage(int socket, MessageHeader* message, int flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(PollRequest* requests, nuint count, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int IoControl(int descriptor, nuint request, int* value);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int CloseDescriptor(int descriptor);
}

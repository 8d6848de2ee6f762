using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Rpc.Transports.Sockets;

/// <summary>Blocks the calling thread in the kernel until a socket can be read (poll(2)).</summary>
internal static partial class SocketPoll
{
    private const short PollIn = 0x001;
    private const int Interrupted = 4; // EINTR

    /// <summary>Whether this platform has poll(2); elsewhere sockets receive asynchronously.</summary>
    public static bool IsSupported => OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD();

    /// <summary>
    /// Waits until <paramref name="socket"/> has bytes, its peer ended the stream, or it was shut
    /// down from this side (which is how a closing connection wakes the waiting thread).
    /// </summary>
    public static void WaitReadable(Socket socket)
    {
        var handle = socket.SafeHandle;
        var added = false;
        try
        {
            // Holding a reference keeps the descriptor from being closed and reused while we wait on it.
            handle.DangerousAddRef(ref added);
            var request = new PollRequest { Descriptor = (int)handle.DangerousGetHandle(), Events = PollIn };
            while (Poll(ref request, 1, -1) < 0)
            {
                var error = Marshal.GetLastPInvokeError();
                if (error != Interrupted)
                {
                    throw new SocketException(error);
                }
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollRequest
    {
        public int Descriptor;
        public short Events;
        public short ReturnedEvents;
    }

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(ref PollRequest request, nuint count, int timeoutMilliseconds);
}

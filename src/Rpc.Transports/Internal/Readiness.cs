using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Rpc.Transports.Internal;

/// <summary>
/// Blocks the calling thread in the kernel until a descriptor can be read (poll(2)), so that the
/// arrival of bytes wakes that thread directly.
/// </summary>
internal static partial class Readiness
{
    private const short PollIn = 0x001;
    private const int Interrupted = 4; // EINTR
    private const int EventFdCloseOnExec = 0x80000; // EFD_CLOEXEC
    private const int EventFdNonBlocking = 0x800; // EFD_NONBLOCK

    /// <summary>Whether this platform has poll(2).</summary>
    public static bool IsSupported => OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD();

    /// <summary>Whether <see cref="Waker"/> works here (eventfd(2) is Linux's).</summary>
    public static bool HasWaker => OperatingSystem.IsLinux();

    /// <summary>
    /// Waits until <paramref name="handle"/> has bytes or its peer ended the stream. A socket shut
    /// down from this side wakes the wait too, which is how a closing connection frees its thread.
    /// </summary>
    public static void WaitReadable(SafeHandle handle) => WaitReadable(handle, waker: null);

    /// <summary>
    /// As <see cref="WaitReadable(SafeHandle)"/>, but first asks without waiting, again and again,
    /// for up to <paramref name="spinTicks"/> (<see cref="System.Diagnostics.Stopwatch"/> ticks): a
    /// reply that comes within the spin then costs no sleep and no wake-up, which on a round trip
    /// are most of its time. Bounded, so an idle connection goes to sleep after one spin. True
    /// when the spin caught the bytes.
    /// </summary>
    public static bool WaitReadable(SafeHandle handle, long spinTicks)
    {
        if (spinTicks > 0)
        {
            var until = System.Diagnostics.Stopwatch.GetTimestamp() + spinTicks;
            do
            {
                if (IsReadableNow(handle))
                {
                    return true;
                }

                Thread.SpinWait(20);
            }
            while (System.Diagnostics.Stopwatch.GetTimestamp() < until);
        }

        WaitReadable(handle, waker: null);
        return false;
    }

    private static bool IsReadableNow(SafeHandle handle)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var request = new PollRequest { Descriptor = (int)handle.DangerousGetHandle(), Events = PollIn };
            // Any answer but "nothing yet" ends the spin: the blocking wait reports errors properly.
            return Poll(ref request, 1, 0) != 0;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Waits until <paramref name="handle"/> has bytes, its peer ended the stream, or
    /// <paramref name="waker"/> was woken; false in the last case.
    /// </summary>
    public static bool WaitReadable(SafeHandle handle, Waker? waker)
    {
        var added = false;
        try
        {
            // Holding a reference keeps the descriptor from being closed and reused while we wait on it.
            handle.DangerousAddRef(ref added);
            Span<PollRequest> requests = stackalloc PollRequest[2];
            requests[0] = new PollRequest { Descriptor = (int)handle.DangerousGetHandle(), Events = PollIn };
            requests[1] = new PollRequest { Descriptor = waker?.Descriptor ?? -1, Events = PollIn };
            while (Poll(ref MemoryMarshal.GetReference(requests), waker is null ? 1u : 2u, -1) < 0)
            {
                var error = Marshal.GetLastPInvokeError();
                if (error != Interrupted)
                {
                    throw new IOException($"poll failed: {new Win32Exception(error).Message}");
                }
            }

            return requests[1].ReturnedEvents == 0;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Something to wake a <see cref="WaitReadable(SafeHandle, Waker?)"/> with, for a medium that cannot be shut down.</summary>
    internal sealed class Waker : IDisposable
    {
        private int _descriptor;

        public Waker()
        {
            _descriptor = EventFd(0, EventFdCloseOnExec | EventFdNonBlocking);
            if (_descriptor < 0)
            {
                throw new IOException($"eventfd failed: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");
            }
        }

        public int Descriptor => _descriptor;

        /// <summary>Wakes the waiting thread, now or when it next waits.</summary>
        public void Wake()
        {
            long one = 1;
            _ = Write(_descriptor, ref one, sizeof(long));
        }

        /// <summary>Closes the descriptor; only once no thread can be waiting on it.</summary>
        public void Dispose()
        {
            var descriptor = Interlocked.Exchange(ref _descriptor, -1);
            if (descriptor >= 0)
            {
                _ = Close(descriptor);
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
    private static partial int Poll(ref PollRequest requests, nuint count, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initial, int flags);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int descriptor, ref long value, nint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);
}

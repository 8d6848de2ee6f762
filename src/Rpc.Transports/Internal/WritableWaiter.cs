using System.Collections.Concurrent;
using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Rpc.Transports.Internal;

/// <summary>
/// Waits, without holding a thread of its own, until a socket whose send buffer was full can take
/// bytes again. One thread per process sleeps in epoll_wait for every such socket (Linux).
/// </summary>
/// <remarks>
/// Threads: the connection's send loop calls <see cref="WaitAsync"/>, one wait at a time, and alone
/// arms the socket in the epoll set (one-shot, so a wake-up fires once per wait). The process's
/// waiter thread completes the wait; its continuation runs on the thread pool, never on the waiter.
/// <see cref="Dispose"/> comes from the closing thread after it shut the socket down, and completes a
/// wait still pending: closing the descriptor could drop a hang-up the waiter had not yet seen.
/// </remarks>
internal sealed unsafe partial class WritableWaiter : IDisposable
{
    private const int EpollCloseOnExec = 0x80000; // EPOLL_CLOEXEC
    private const int EpollCtlAdd = 1;
    private const int EpollCtlMod = 3;
    private const uint EpollOut = 0x004;
    private const uint EpollOneShot = 1u << 30;
    private const int ENoEnt = 2;
    private const int EIntr = 4;
    private const int EventsPerWait = 64;

    private static readonly ConcurrentDictionary<long, WritableWaiter> Waiting = new();
    private static readonly Lazy<int> Epoll = new(StartWaiterThread);
    private static long _lastId;

    private readonly SafeHandle _socket;
    private readonly long _id = Interlocked.Increment(ref _lastId);
    private TaskCompletionSource? _pending;
    private volatile bool _disposed;

    /// <summary>The process's epoll descriptor, once a send has waited.</summary>
    internal static int? EpollDescriptor => Epoll.IsValueCreated ? Epoll.Value : null;

    /// <param name="socket">The socket whose writability is waited for; the caller keeps owning it.</param>
    public WritableWaiter(SafeHandle socket)
    {
        _socket = socket;
        Waiting[_id] = this;
    }

    /// <summary>
    /// Completes when the socket can take bytes, hung up, or failed, or this waiter was disposed;
    /// the send that follows tells which.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    public Task WaitAsync()
    {
        var pending = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _pending, pending);
        // Dispose sets the flag before it takes the wait, so one of the two sees the other.
        if (_disposed)
        {
            Complete();
            return pending.Task;
        }

        Arm();
        return pending.Task;
    }

    public void Dispose()
    {
        _disposed = true;
        Waiting.TryRemove(_id, out _);
        Complete();
    }

    private void Complete() => Interlocked.Exchange(ref _pending, null)?.TrySetResult();

    private void Arm()
    {
        var epoll = Epoll.Value;
        var added = false;
        try
        {
            _socket.DangerousAddRef(ref added);
            var descriptor = (int)_socket.DangerousGetHandle();
            var events = EpollOut | EpollOneShot;
            // Modify first: a socket that waited before is still in the set, disarmed by its one shot.
            if (Control(epoll, EpollCtlMod, descriptor, events, _id) < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno != ENoEnt || Control(epoll, EpollCtlAdd, descriptor, events, _id) < 0)
                {
                    errno = errno != ENoEnt ? errno : Marshal.GetLastPInvokeError();
                    throw new IOException($"epoll_ctl failed: {new Win32Exception(errno).Message} (errno {errno}).");
                }
            }
        }
        finally
        {
            if (added)
            {
                _socket.DangerousRelease();
            }
        }
    }

    private static int StartWaiterThread()
    {
        var epoll = EpollCreate(EpollCloseOnExec);
        if (epoll < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"epoll_create1 failed: {new Win32Exception(errno).Message} (errno {errno}).");
        }

        // Lives as long as the process, asleep in the kernel while no send waits.
        new Thread(() => Run(epoll)) { IsBackground = true, Name = "Rpc socket writable" }.Start();
        return epoll;
    }

    private static void Run(int epoll)
    {
        var x64 = RuntimeInformation.ProcessArchitecture == Architecture.X64;
        var buffer = stackalloc byte[EventsPerWait * sizeof(AlignedEvent)];
        while (true)
        {
            var count = EpollWait(epoll, buffer, EventsPerWait, -1);
            if (count < 0)
            {
                if (Marshal.GetLastPInvokeError() == EIntr)
                {
                    continue;
                }

                // Nothing else can fail with a valid epoll descriptor and buffer; should it, waits
                // still end when their connections close.
                return;
            }

            for (var i = 0; i < count; i++)
            {
                var id = x64 ? ((PackedEvent*)buffer)[i].Data : ((AlignedEvent*)buffer)[i].Data;
                // A connection that closed meanwhile is gone from the table; its event means nothing.
                if (Waiting.TryGetValue(id, out var waiter))
                {
                    waiter.Complete();
                }
            }
        }
    }

    private static int Control(int epoll, int operation, int descriptor, uint events, long id)
    {
        if (RuntimeInformation.ProcessArchitecture == Architecture.X64)
        {
            var packed = new PackedEvent { Events = events, Data = id };
            return EpollControl(epoll, operation, descriptor, &packed);
        }

        var aligned = new AlignedEvent { Events = events, Data = id };
        return EpollControl(epoll, operation, descriptor, &aligned);
    }

    // struct epoll_event is packed on x86-64 (12 bytes) and naturally aligned elsewhere (16 bytes).
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct PackedEvent
    {
        public uint Events;
        public long Data;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct AlignedEvent
    {
        public uint Events;
        public long Data;
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollControl(int epoll, int operation, int descriptor, void* ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWait(int epoll, byte* events, int maxEvents, int timeoutMilliseconds);
}

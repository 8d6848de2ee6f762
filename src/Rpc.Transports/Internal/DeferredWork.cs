using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace Rpc.Transports.Internal;

/// <summary>
/// Work a connection's receive thread runs once the protocol has parsed what arrived, instead of
/// handing it to the thread pool: waking a call's reader, starting a handler, sending what they
/// wrote. Each of those hand-offs costs a thread wake-up, and on shared memory they were most of
/// a round trip (unary p50 about 30 µs with them, 4.5 µs without). The work is user code that may
/// block; <see cref="ReceiveLoopWatchdog"/> notices an item that runs past its patience, gives the
/// connection's receiving to a new thread, so a handler or continuation that blocks stalls its
/// connection for a millisecond or two, never for good. An item that blocks (its thread asleep)
/// also turns deferral off for a while: a connection whose handlers block settles on the thread
/// pool. An item that runs (being compiled, computing, or waiting for a core on a busy machine)
/// loses the loop only after <see cref="RunningLooks"/> looks, and deferral stays on.
/// </summary>
/// <remarks>
/// Threads: the owner (the thread receiving for the connection now) runs the items and is the only
/// one that may add them, since only it is sure to run them before it next sleeps; any other thread
/// is refused and uses the thread pool. The watchdog reads <see cref="_state"/> and, once, takes
/// ownership away with a compare-and-swap; the old owner learns of it when its item returns and
/// then leaves the loop without touching it again.
/// </remarks>
internal sealed class DeferredWork
{
    // Deferral after a rescue stays off this long at first, doubling with each rescue up to the
    // most: a connection whose handlers keep blocking settles on the thread pool.
    private const int FirstPauseMilliseconds = 1_000;
    private const int MostPauseMilliseconds = 60_000;

    /// <summary>
    /// Looks that find one item still running before the loop moves on anyway: 40–80 ms. The first
    /// calls' compilation takes 30–40 ms on the small machines we measure on, and a thread that
    /// lost its core comes back within a few.
    /// </summary>
    internal const int RunningLooks = 8;

    // Set in _state by the watchdog when it gives the loop to another thread.
    private const long Abandoned = 1L << 62;

    private readonly ConcurrentQueue<(Action<object?> Work, object? State)> _items = new();
    private readonly Action _resume;
    private readonly bool _watched;

    // Counts items: odd while one runs. Written by the owner; the watchdog only swaps in Abandoned.
    private long _state;
    private volatile int _ownerThreadId;
    private volatile int _ownerOsThreadId;
    private int _looksAtItem;
    private volatile bool _paused;
    private long _pausedUntil;
    private int _pauseMilliseconds = FirstPauseMilliseconds;

    /// <param name="resume">Starts a new thread that calls <see cref="TakeOwnership"/> and goes on receiving.</param>
    /// <param name="watched">Whether the process's watchdog looks after it; tests that look themselves say no.</param>
    public DeferredWork(Action resume, bool watched = true)
    {
        _resume = resume;
        _watched = watched;
    }

    /// <summary>The state the watchdog saw at its last look; only the watchdog uses it.</summary>
    internal long WatchdogSeen { get; set; }

    /// <summary>How many times the watchdog took the loop from a blocked item.</summary>
    internal int Rescues { get; private set; }

    /// <summary>
    /// Queues <paramref name="work"/> to run on this thread once the received bytes are parsed:
    /// true when the caller is the connection's receive thread and deferral is on; otherwise false,
    /// and the caller runs it elsewhere.
    /// </summary>
    public bool TryDefer(Action<object?> work, object? state)
    {
        if (Environment.CurrentManagedThreadId != _ownerThreadId || (_paused && !TryUnpause()))
        {
            return false;
        }

        _items.Enqueue((work, state));
        return true;
    }

    /// <summary>Whether the calling thread is the one receiving for the connection now.</summary>
    public bool IsOwner => Environment.CurrentManagedThreadId == _ownerThreadId;

    /// <summary>Whether items wait to run; for the owner.</summary>
    public bool HasPending => !_items.IsEmpty;

    /// <summary>Whether an item runs now; for the owner, from inside it.</summary>
    public bool IsRunningItem => (Volatile.Read(ref _state) & 1) != 0;

    /// <summary>Which item runs now (a count, odd while one does); for the owner, from inside it.</summary>
    public long CurrentItem => Volatile.Read(ref _state);

    /// <summary>The calling thread is the receiving one from now on (at the start, or after a rescue).</summary>
    public void TakeOwnership()
    {
        // Even and without the flag: the thread that was abandoned compares against an odd value.
        Volatile.Write(ref _state, ((Volatile.Read(ref _state) & ~Abandoned) + 1) & ~1L);
        _ownerOsThreadId = OsThreads.CurrentId();
        _ownerThreadId = Environment.CurrentManagedThreadId;
        if (_watched)
        {
            ReceiveLoopWatchdog.Register(this);
        }
    }

    /// <summary>The loop is over: nothing more is deferred, and the watchdog forgets it.</summary>
    public void ReleaseOwnership()
    {
        _ownerThreadId = 0;
        ReceiveLoopWatchdog.Unregister(this);
    }

    /// <summary>
    /// Runs what was deferred, on the owner. False when the watchdog has meanwhile given the loop
    /// to another thread: the caller must then leave it at once.
    /// </summary>
    public bool RunPending()
    {
        while (_items.TryDequeue(out var item))
        {
            var running = Volatile.Read(ref _state) + 1;
            Volatile.Write(ref _state, running);
            ReceiveLoopWatchdog.Notice();
            try
            {
                item.Work(item.State);
            }
            catch (Exception ex)
            {
                // As on the thread pool, an exception nothing caught ends the process; it must not
                // end only this connection's receiving, silently.
                var captured = ExceptionDispatchInfo.Capture(ex);
                ThreadPool.UnsafeQueueUserWorkItem(static e => ((ExceptionDispatchInfo)e!).Throw(), captured);
            }

            if (Interlocked.CompareExchange(ref _state, running + 1, running) != running)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The watchdog's look, every patience period: an item still running that was running at the
    /// last look has held the loop that long. If its thread is asleep the item blocks, and the loop
    /// goes to a new thread at once; if it runs, only after <see cref="RunningLooks"/> looks. True
    /// when the connection did anything since the last look. <paramref name="mayRescue"/> is false
    /// for a look right after the runtime stopped every thread for a collection: the item did not
    /// hold the loop, the collector did.
    /// </summary>
    internal bool Inspect(bool mayRescue = true)
    {
        var state = Volatile.Read(ref _state);
        var seen = WatchdogSeen;
        WatchdogSeen = state;
        if ((state & 1) == 0 || (state & Abandoned) != 0 || state != seen)
        {
            _looksAtItem = 0;
            return state != seen || (state & 1) == 1;
        }

        if (!mayRescue)
        {
            return true;
        }

        var blocked = !OsThreads.IsRunning(_ownerOsThreadId);
        if ((blocked || ++_looksAtItem >= RunningLooks)
            && Interlocked.CompareExchange(ref _state, state | Abandoned, state) == state)
        {
            _looksAtItem = 0;
            Rescue(pause: blocked);
        }

        return true;
    }

    private void Rescue(bool pause)
    {
        Rescues++;
        // Until the new thread owns the loop, nobody may defer: nobody would run it.
        _ownerThreadId = 0;
        if (pause)
        {
            Volatile.Write(ref _pausedUntil, Environment.TickCount64 + _pauseMilliseconds);
            _pauseMilliseconds = Math.Min(_pauseMilliseconds * 2, MostPauseMilliseconds);
            _paused = true;
        }

        _resume();
    }

    private bool TryUnpause()
    {
        if (Environment.TickCount64 < Volatile.Read(ref _pausedUntil))
        {
            return false;
        }

        _paused = false;
        return true;
    }
}

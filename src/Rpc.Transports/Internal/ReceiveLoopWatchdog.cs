namespace Rpc.Transports.Internal;

/// <summary>
/// One thread per process that looks, every <see cref="Patience"/>, at the receive loops running
/// deferred work (<see cref="DeferredWork"/>) and rescues a loop whose item has run since the last
/// look: a handler or continuation that blocks on the receive thread stalls its connection for one
/// to two periods, then the connection receives on a new thread.
/// </summary>
/// <remarks>
/// It sleeps while no loop has run an item for <see cref="QuietLooksBeforeSleep"/> looks, so an idle
/// process spends nothing on it; the next item wakes it. At most one such thread per process; the
/// loops it watches are the connections' receive threads, bounded by <see cref="ReceiveThreads.Max"/>
/// plus the rescued ones still blocked.
/// </remarks>
internal static class ReceiveLoopWatchdog
{
    /// <summary>How long an item may hold its receive loop before the loop moves to a new thread.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromMilliseconds(5);

    private const int QuietLooksBeforeSleep = 100;

    // A sleeping watchdog's longest nap: every wait has a deadline, even one nobody needs.
    private static readonly TimeSpan LongestSleep = TimeSpan.FromSeconds(10);

    private static readonly Lock s_lock = new();
    private static readonly List<DeferredWork> s_loops = [];
    private static readonly AutoResetEvent s_wake = new(initialState: false);
    private static Thread? s_thread;
    private static int s_asleep;
    private static TimeSpan s_gcPausedAtLastLook;

    public static void Register(DeferredWork loop)
    {
        lock (s_lock)
        {
            if (!s_loops.Contains(loop))
            {
                s_loops.Add(loop);
            }

            if (s_thread is null)
            {
                s_thread = new Thread(Watch, maxStackSize: 256 * 1024) { IsBackground = true, Name = "Rpc receive watchdog" };
                s_thread.Start();
            }
        }
    }

    public static void Unregister(DeferredWork loop)
    {
        lock (s_lock)
        {
            s_loops.Remove(loop);
        }
    }

    /// <summary>An item starts: a sleeping watchdog wakes. One read of a shared flag when it is awake.</summary>
    public static void Notice()
    {
        if (Volatile.Read(ref s_asleep) == 1 && Interlocked.Exchange(ref s_asleep, 0) == 1)
        {
            s_wake.Set();
        }
    }

    private static void Watch()
    {
        var quietLooks = 0;
        while (true)
        {
            Thread.Sleep(Patience);
            if (Look())
            {
                quietLooks = 0;
                continue;
            }

            if (++quietLooks < QuietLooksBeforeSleep)
            {
                continue;
            }

            Volatile.Write(ref s_asleep, 1);
            // An item that started before the flag went up did not wake us: one more look sees it.
            if (!Look())
            {
                s_wake.WaitOne(LongestSleep);
            }

            Volatile.Write(ref s_asleep, 0);
            quietLooks = 0;
        }
    }

    private static bool Look()
    {
        // A collection that stopped every thread for much of the period stopped the items too.
        var paused = GC.GetTotalPauseDuration();
        var mayRescue = paused - s_gcPausedAtLastLook < Patience / 2;
        s_gcPausedAtLastLook = paused;
        var active = false;
        lock (s_lock)
        {
            // Backwards: a rescue may add nothing but the loop itself, which is already here.
            for (var i = s_loops.Count - 1; i >= 0; i--)
            {
                active |= s_loops[i].Inspect(mayRescue);
            }
        }

        return active;
    }
}

using System.IO.Pipelines;

namespace Rpc.Transports.Internal;

/// <summary>
/// Where a connection's send loop resumes when the protocol flushes: on the flushing thread itself,
/// which saves a thread-pool wake-up per flush (on shared memory most of a round trip); the flusher
/// pays for the send. A send loop that finds more output queued behind its batch, on a thread that
/// is neither the connection's receive thread nor the pool's, moves to the pool
/// (<see cref="TransportConnection"/>), so a caller's thread is never kept sending for others.
/// </summary>
/// <remarks>
/// Otherwise a flush on the connection's own receive thread (the protocol, or a handler or reader
/// it runs, see <see cref="DeferredWork"/>) sends from that thread too: at once when nothing else
/// waits to run there, so a lone reply leaves while its call is still finishing (unary p50 on
/// shared memory 7.7 against 4.6 µs when the send waited for the end of the handler's item); on a
/// medium whose sends are system calls, after the rest when more work waits, so the replies of
/// every call it woke leave in one send. On TCP, whose send costs several times a hand-off, a flush
/// from inside an item waits for the item's end, and a flush off the receive thread goes to the
/// pool, so a writer that keeps writing has its messages leave together (server streaming over
/// tcp:// 60–156k → 1.3–2.3M msgs/s; unary p50 59.7 → 29–38 µs with the engine-free connect).
/// On shared memory and Unix sockets only an item's second and later flushes wait, up to a batch
/// size (server streaming over shm 1.2–1.4M → 2.6–2.7M msgs/s, with the read loop's parse batch).
/// The flag is set once, by whoever configures the connection, and read by any flushing thread.
/// </remarks>
internal sealed class SendScheduler : PipeScheduler
{
    private volatile bool _inline;
    private DeferredWork? _deferred;
    private bool _batch;
    private bool _batchWithinWork;
    // A writer that keeps writing inside one item on the receive thread has its later sends
    // parked here, to leave together. The receive thread parks; whoever takes the parked send
    // (the item's end, a full batch, another thread's flush, or a new receive thread after the
    // watchdog's rescue) takes it by exchange, so it runs exactly once. The state is written
    // before the action is published and read only by the thread that took the action.
    private int _batchWithinItemUpTo;
    private long _itemThatSent = -1;
    private Action<object?>? _parked;
    private object? _parkedState;

    /// <summary>From now on every flush sends on its own thread, the receive thread's included (the protocol's <c>UnsafePreferInlineScheduling</c>).</summary>
    public void RunInline() => _inline = true;

    public bool IsInline => _inline;

    /// <summary>Whether the calling thread is the connection's receive thread (which runs its queued sends itself).</summary>
    public bool OnReceiveThread => _deferred is { IsOwner: true };

    /// <summary>
    /// Flushes on the receive thread of <paramref name="deferred"/> send from it; set before the
    /// connection starts. <paramref name="batch"/>: a send is a system call worth sharing, so while
    /// more work waits there the send goes after it. Without, every flush sends at once: on shared
    /// memory a send is a copy, and the peer starts on the first call while this side wakes the
    /// rest (64 callers on shm 3.9× grpc-dotnet batched, 5.0× sent at once; on unix 4.0× batched
    /// against 2.3×).
    /// </summary>
    /// <param name="deferred">The receive thread's deferred work.</param>
    /// <param name="batch">Whether a send waits for the other work queued there.</param>
    /// <param name="batchWithinWork">
    /// Whether a flush from inside an item that runs there (a handler, a reader) also waits for
    /// that item's end, so that what the item writes leaves in one send: for a medium whose send
    /// costs much more than a hand-off. TCP's does: on loopback the sender's system call also runs
    /// the receiver's side of the stack, 5–7 µs a send, and server streaming sent one message per
    /// send at 60–140k msgs/s.
    /// </param>
    /// <param name="batchWithinItemUpTo">
    /// Unsent bytes up to which the second and later flushes of one item on the receive thread
    /// wait, for the item's end or for more to join them (<see cref="SendParkedOnceFull"/>); 0 for
    /// never. The first flush of an item still goes at once, so a handler's lone reply leaves while
    /// its call finishes; a writer that keeps writing (a streaming handler, a reader granting
    /// window) sends in batches instead of one send loop pass per message.
    /// </param>
    public void DeferOn(DeferredWork deferred, bool batch, bool batchWithinWork = false, int batchWithinItemUpTo = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batchWithinItemUpTo);
        _deferred = deferred;
        _batch = batch;
        _batchWithinWork = batchWithinWork;
        _batchWithinItemUpTo = batchWithinItemUpTo;
    }

    /// <summary>
    /// After a flush: the parked send goes now if <paramref name="unsentBytes"/> have gathered, or
    /// if the flush was another thread's (whose bytes would otherwise wait for the item's end too),
    /// rather than at the end of the item.
    /// </summary>
    public void SendParkedOnceFull(long unsentBytes)
    {
        if (Volatile.Read(ref _parked) is not null && (unsentBytes >= _batchWithinItemUpTo || _deferred is not { IsOwner: true }))
        {
            SendParked();
        }
    }

    public override void Schedule(Action<object?> action, object? state)
    {
        if (!_inline && _batchWithinItemUpTo > 0 && _deferred is { IsOwner: true } owner && owner.IsRunningItem && TryPark(owner, action, state))
        {
            return;
        }

        // Every flush sends on its own thread (a pool thread's wake-up cost more than the send:
        // blocking stub on unix 130 -> 82 us, on shm 26 -> 15 us; 64 callers the same or better),
        // except that the receive thread of a batching medium sends after the work still queued.
        if (_inline || !_batch)
        {
            action(state);
            return;
        }

        if (_deferred is not { IsOwner: true } deferred)
        {
            if (_batchWithinWork)
            {
                // Off the receive thread, a dear send goes from the pool: a writer that keeps
                // writing meanwhile has its messages leave together.
                System.Threading.ThreadPool.UnsafeQueueUserWorkItem(action, state, preferLocal: false);
            }
            else
            {
                action(state);
            }

            return;
        }

        if (!(deferred.HasPending || (_batchWithinWork && deferred.IsRunningItem)) || !deferred.TryDefer(action, state))
        {
            action(state);
        }
    }

    /// <summary>The first flush of an item goes at once; a later one is parked until the item ends.</summary>
    private bool TryPark(DeferredWork owner, Action<object?> action, object? state)
    {
        var item = owner.CurrentItem;
        if (item != _itemThatSent)
        {
            _itemThatSent = item;
            return false;
        }

        // Published before the run is queued: a receive thread that takes over after a rescue
        // may run the queued item before this one returns.
        _parkedState = state;
        Volatile.Write(ref _parked, action);
        if (owner.TryDefer(static scheduler => ((SendScheduler)scheduler!).SendParked(), this))
        {
            return true;
        }

        // Refused (paused, or the loop just moved): the caller sends, unless some other thread
        // already took the send meanwhile and ran it.
        if (Interlocked.Exchange(ref _parked, null) is null)
        {
            return true;
        }

        _parkedState = null;
        return false;
    }

    /// <summary>The parked send, run by whoever takes it first; the others find nothing.</summary>
    private void SendParked()
    {
        if (Interlocked.Exchange(ref _parked, null) is not { } action)
        {
            return;
        }

        // Nothing parks again before this action runs: the next park is the send loop's next wait.
        var state = _parkedState;
        _parkedState = null;
        action(state);
    }
}

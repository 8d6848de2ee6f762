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
/// every call it woke leave in one send.
/// The flag is set once, by whoever configures the connection, and read by any flushing thread.
/// </remarks>
internal sealed class SendScheduler : PipeScheduler
{
    private volatile bool _inline;
    private DeferredWork? _deferred;
    private bool _batch;

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
    public void DeferOn(DeferredWork deferred, bool batch)
    {
        _deferred = deferred;
        _batch = batch;
    }

    public override void Schedule(Action<object?> action, object? state)
    {
        // Every flush sends on its own thread (a pool thread's wake-up cost more than the send:
        // blocking stub on unix 130 -> 82 us, on shm 26 -> 15 us; 64 callers the same or better),
        // except that the receive thread of a batching medium sends after the work still queued.
        if (_inline || !_batch || _deferred is not { IsOwner: true, HasPending: true } deferred || !deferred.TryDefer(action, state))
        {
            action(state);
        }
    }
}

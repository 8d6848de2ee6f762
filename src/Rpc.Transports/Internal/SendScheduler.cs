using System.IO.Pipelines;

namespace Rpc.Transports.Internal;

/// <summary>
/// Where a connection's send loop resumes when the protocol flushes: on the thread pool, or, once
/// the connection was asked to prefer inline scheduling, on the flushing thread itself. Inline saves
/// a thread-pool wake-up per flush (on shared memory most of a round trip); the flusher then pays
/// for the send, and flushes of other writers wait behind it.
/// </summary>
/// <remarks>
/// Otherwise a flush on the connection's own receive thread (the protocol, or a handler or reader
/// it runs, see <see cref="DeferredWork"/>) sends from that thread too: at once when nothing else
/// waits to run there, so a lone reply leaves while its call is still finishing (unary p50 on
/// shared memory 7.7 against 4.6 µs when the send waited for the end of the handler's item);
/// after the rest when more work waits, so the replies of every call it woke leave in one send.
/// The flag is set once, by whoever configures the connection, and read by any flushing thread.
/// </remarks>
internal sealed class SendScheduler : PipeScheduler
{
    private volatile bool _inline;
    private DeferredWork? _deferred;

    /// <summary>From now on the send loop runs on the thread that flushes.</summary>
    public void RunInline() => _inline = true;

    public bool IsInline => _inline;

    /// <summary>Flushes on the receive thread of <paramref name="deferred"/> send after its work; set before the connection starts.</summary>
    public void DeferOn(DeferredWork deferred) => _deferred = deferred;

    public override void Schedule(Action<object?> action, object? state)
    {
        if (_inline)
        {
            action(state);
        }
        else if (_deferred is { IsOwner: true } deferred)
        {
            if (!deferred.HasPending || !deferred.TryDefer(action, state))
            {
                action(state);
            }
        }
        else
        {
            System.Threading.ThreadPool.UnsafeQueueUserWorkItem(action, state, preferLocal: false);
        }
    }
}

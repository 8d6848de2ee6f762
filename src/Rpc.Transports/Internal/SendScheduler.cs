using System.IO.Pipelines;

namespace Rpc.Transports.Internal;

/// <summary>
/// Where a connection's send loop resumes when the protocol flushes: on the thread pool, or, once
/// the connection was asked to prefer inline scheduling, on the flushing thread itself. Inline saves
/// a thread-pool wake-up per flush (on shared memory most of a round trip); the flusher then pays
/// for the send, and flushes of other writers wait behind it.
/// </summary>
/// <remarks>The flag is set once, by whoever configures the connection, and read by any flushing thread.</remarks>
internal sealed class SendScheduler : PipeScheduler
{
    private volatile bool _inline;

    /// <summary>From now on the send loop runs on the thread that flushes.</summary>
    public void RunInline() => _inline = true;

    public bool IsInline => _inline;

    public override void Schedule(Action<object?> action, object? state)
    {
        if (_inline)
        {
            action(state);
        }
        else
        {
            System.Threading.ThreadPool.UnsafeQueueUserWorkItem(action, state, preferLocal: false);
        }
    }
}

using System.Threading.Tasks.Sources;

namespace Rpc.Transports.Protocol;

/// <summary>
/// The messages a stream has received and its reader has not taken yet: one writer (the read loop),
/// one reader (the call). Most calls carry a single message, so the first one waits in a field and
/// a queue is made only when more pile up; a waiting reader costs no allocation either. Readers
/// resume on the thread pool unless the queue was told to resume them inline, on the thread that
/// adds the message (the connection's read loop): see <see cref="ResumeReadersInline"/>.
/// </summary>
/// <remarks>
/// A stream is a queue (<see cref="CallStream"/> derives from it) rather than having one: one
/// object less per stream, and the stream's lock is this object.
/// </remarks>
internal abstract class MessageQueue : IValueTaskSource<bool>
{
    private static readonly Action<object?> s_signalTrue = static queue => ((MessageQueue)queue!).SignalNow(true, inline: true);
    private static readonly Action<object?> s_signalFalse = static queue => ((MessageQueue)queue!).SignalNow(false, inline: true);

    private ManualResetValueTaskSourceCore<bool> _waiter = new() { RunContinuationsAsynchronously = true };
    private bool _readersInline;
    private IncomingMessage _first;
    private bool _hasFirst;
    private Queue<IncomingMessage>? _rest;
    private bool _completed;
    private bool _waiting;
    private CancellationTokenRegistration _cancellation;

    /// <summary>
    /// From now on a waiting reader resumes on the thread that signals it (the read loop) rather
    /// than the pool: one thread hand-off less per message, at the price that a reader which
    /// blocks stalls the read loop. Call before the first wait; the read loop reads the flag only
    /// inside <see cref="ManualResetValueTaskSourceCore{TResult}.SetResult"/>, after the stream
    /// was published to it, which orders the write before the read.
    /// </summary>
    internal void ResumeReadersInline() => _readersInline = true;

    /// <summary>
    /// The read loop, about to wake a reader on the thread pool: true when <paramref name="wake"/>
    /// was queued to run on the receive thread instead, after what arrived is parsed.
    /// </summary>
    protected virtual bool TryDefer(Action<object?> wake) => false;

    /// <summary>The stream's lock, which the call object on top shares rather than allocating its own.</summary>
    internal object SyncRoot => this;

    /// <summary>
    /// Adds a message; false (and the message is released, its bytes not counted) once the queue is
    /// complete. <paramref name="bytes"/> goes to <see cref="OnEnqueuedLocked"/> under the same lock.
    /// </summary>
    protected bool TryEnqueue(IncomingMessage message, int bytes)
    {
        lock (SyncRoot)
        {
            if (_completed)
            {
                message.Release();
                return false;
            }

            OnEnqueuedLocked(bytes);

            if (!_hasFirst)
            {
                _first = message;
                _hasFirst = true;
            }
            else
            {
                (_rest ??= new Queue<IncomingMessage>()).Enqueue(message);
            }

            if (!TakeWaiter())
            {
                return true;
            }
        }

        Signal(true);
        return true;
    }

    /// <summary>No more messages will come; a waiting reader wakes.</summary>
    protected void CompleteQueue()
    {
        lock (SyncRoot)
        {
            _completed = true;
            if (!TakeWaiter())
            {
                return;
            }
        }

        Signal(false);
    }

    /// <summary>
    /// After a reset, which no reader reads past: the messages still queued are released now, so a
    /// pooled array goes back and a mapped region goes back to its sender (it would otherwise stay
    /// busy for the connection's life).
    /// </summary>
    protected void DiscardQueued()
    {
        lock (SyncRoot)
        {
            if (_hasFirst)
            {
                _first.Release();
                _first = default;
                _hasFirst = false;
            }

            while (_rest is { Count: > 0 } rest)
            {
                rest.Dequeue().Release();
            }
        }
    }

    /// <summary>Takes the oldest message; <paramref name="credit"/> is what <see cref="OnDequeuedLocked"/> made of it.</summary>
    protected bool TryDequeue(out IncomingMessage message, out int credit)
    {
        lock (SyncRoot)
        {
            if (!_hasFirst)
            {
                message = default;
                credit = 0;
                return false;
            }

            message = _first;
            if (_rest is { Count: > 0 } rest)
            {
                _first = rest.Dequeue();
            }
            else
            {
                _first = default;
                _hasFirst = false;
            }

            credit = OnDequeuedLocked(message.FlowControlledLength);
            return true;
        }
    }

    /// <summary>
    /// Under the queue's lock as a message is added: the stream's flow-control accounting shares
    /// the critical section, so the read loop and the reader each take the lock once per message.
    /// </summary>
    protected abstract void OnEnqueuedLocked(int bytes);

    /// <summary>Under the queue's lock as a message is taken; returns the credit to grant the sender.</summary>
    protected abstract int OnDequeuedLocked(int length);

    /// <summary>True when a message can be taken, false when the queue is complete and empty.</summary>
    protected ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken)
    {
        lock (SyncRoot)
        {
            if (_hasFirst)
            {
                return new ValueTask<bool>(true);
            }

            if (_completed)
            {
                return new ValueTask<bool>(false);
            }

            cancellationToken.ThrowIfCancellationRequested();
            _waiter.Reset();
            _waiting = true;
            if (cancellationToken.CanBeCanceled)
            {
                _cancellation = cancellationToken.UnsafeRegister(static (state, token) => ((MessageQueue)state!).OnCancelled(token), this);
            }

            return new ValueTask<bool>(this, _waiter.Version);
        }
    }

    private void OnCancelled(CancellationToken token)
    {
        lock (SyncRoot)
        {
            if (!_waiting)
            {
                return;
            }

            _waiting = false;
        }

        // The thread cancelling is the user's: the reader resumes on the pool, unless told otherwise.
        _waiter.RunContinuationsAsynchronously = !_readersInline;
        _waiter.SetException(new OperationCanceledException(token));
    }

    /// <summary>Under the lock: claims the waiting reader, if there is one, for signalling outside it.</summary>
    private bool TakeWaiter()
    {
        if (!_waiting)
        {
            return false;
        }

        _waiting = false;
        return true;
    }

    private void Signal(bool result)
    {
        if (_readersInline || !TryDefer(result ? s_signalTrue : s_signalFalse))
        {
            SignalNow(result, _readersInline);
        }
    }

    /// <summary>By the one thread that took the waiter: that thread alone sets how the reader resumes.</summary>
    private void SignalNow(bool result, bool inline)
    {
        _cancellation.Dispose();
        _waiter.RunContinuationsAsynchronously = !inline;
        _waiter.SetResult(result);
    }

    bool IValueTaskSource<bool>.GetResult(short token)
    {
        var cancellation = _cancellation;
        _cancellation = default;
        cancellation.Dispose();
        return _waiter.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _waiter.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _waiter.OnCompleted(continuation, state, token, flags);
}

using Grpc.Core;

namespace Rpc.Transports.Protocol;

/// <summary>
/// The bytes a stream may still send before the peer grants more. One writer at a time takes from
/// it (gRPC allows one pending write per call); the connection's read loop adds to it.
/// </summary>
internal sealed class SendWindow
{
    private readonly Lock _lock;
    private long _available;
    private TaskCompletionSource? _waiter;
    private Status? _failure;

    /// <summary>Creates the window; it shares its stream's lock rather than allocating one.</summary>
    public SendWindow(int initial, Lock streamLock)
    {
        _available = initial;
        _lock = streamLock;
    }

    /// <summary>Takes <paramref name="wanted"/> bytes if they are all there; never waits.</summary>
    public bool TryTake(int wanted)
    {
        lock (_lock)
        {
            if (_available < wanted || _failure is not null)
            {
                return false;
            }

            _available -= wanted;
            return true;
        }
    }

    /// <summary>Takes between 1 and <paramref name="wanted"/> bytes, waiting while none are there.</summary>
    public async ValueTask<int> TakeAsync(int wanted, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (_failure is { } failure)
                {
                    throw new StreamResetException(failure);
                }

                if (_available > 0)
                {
                    var granted = (int)Math.Min(_available, wanted);
                    _available -= granted;
                    return granted;
                }

                _waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _waiter.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Adds credit from a WINDOW_UPDATE; false when the window would pass 2^31-1.</summary>
    public bool Add(int increment)
    {
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            _available += increment;
            if (_available > int.MaxValue)
            {
                return false;
            }

            waiter = _waiter;
            _waiter = null;
        }

        waiter?.TrySetResult();
        return true;
    }

    /// <summary>Wakes a waiting writer with <paramref name="failure"/>; later takes fail too.</summary>
    public void Fail(Status failure)
    {
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            _failure ??= failure;
            waiter = _waiter;
            _waiter = null;
        }

        // The exception is made only for a writer that is actually waiting.
        waiter?.TrySetException(new StreamResetException(failure));
    }
}

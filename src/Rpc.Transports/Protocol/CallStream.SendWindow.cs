using Grpc.Core;

namespace Rpc.Transports.Protocol;

// The bytes a stream may still send before the peer grants more. One writer at a time takes from
// it (gRPC allows one pending write per call); the connection's read loop adds to it. Part of the
// stream object rather than one of its own: one object less per stream.
internal sealed partial class CallStream
{
    private long _windowAvailable;
    private TaskCompletionSource? _windowWaiter;
    private Status? _windowFailure;

    /// <summary>Takes <paramref name="wanted"/> bytes if they are all there; never waits.</summary>
    private bool TryTakeWindow(int wanted)
    {
        lock (SyncRoot)
        {
            if (_windowAvailable < wanted || _windowFailure is not null)
            {
                return false;
            }

            _windowAvailable -= wanted;
        }

        if (_connection.Window.TryTake(wanted))
        {
            return true;
        }

        AddToWindow(wanted);
        return false;
    }

    /// <summary>
    /// Takes between 1 and <paramref name="wanted"/> bytes of both the stream's window and the
    /// connection's, waiting while either is empty. The stream's comes first: only this stream's
    /// writer uses it, so holding it while the connection's refills keeps nobody else waiting.
    /// </summary>
    private async ValueTask<int> TakeBothWindowsAsync(int wanted, CancellationToken cancellationToken)
    {
        var streamGranted = await TakeWindowAsync(wanted, cancellationToken).ConfigureAwait(false);
        int granted;
        try
        {
            granted = await _connection.Window.TakeAsync(streamGranted, ThrowIfWindowFailed, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            AddToWindow(streamGranted);
            throw;
        }

        if (granted < streamGranted)
        {
            AddToWindow(streamGranted - granted);
        }

        return granted;
    }

    private void ThrowIfWindowFailed()
    {
        Status? failure;
        lock (SyncRoot)
        {
            failure = _windowFailure;
        }

        if (failure is { } status)
        {
            throw new StreamResetException(status);
        }
    }

    /// <summary>Takes between 1 and <paramref name="wanted"/> bytes, waiting while none are there.</summary>
    private async ValueTask<int> TakeWindowAsync(int wanted, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (SyncRoot)
            {
                if (_windowFailure is { } failure)
                {
                    throw new StreamResetException(failure);
                }

                if (_windowAvailable > 0)
                {
                    var granted = (int)Math.Min(_windowAvailable, wanted);
                    _windowAvailable -= granted;
                    return granted;
                }

                _windowWaiter = WriterWakeup.NewSignal();
                wait = _windowWaiter.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Adds credit from a WINDOW_UPDATE; false when the window would pass 2^31-1.</summary>
    private bool AddToWindow(int increment)
    {
        TaskCompletionSource? waiter;
        lock (SyncRoot)
        {
            _windowAvailable += increment;
            if (_windowAvailable > int.MaxValue)
            {
                return false;
            }

            waiter = _windowWaiter;
            _windowWaiter = null;
        }

        if (waiter is not null)
        {
            WriterWakeup.Wake(waiter, _connection);
        }

        return true;
    }

    /// <summary>Wakes a waiting writer with <paramref name="failure"/>; later takes fail too.</summary>
    private void FailWindow(Status failure)
    {
        TaskCompletionSource? waiter;
        lock (SyncRoot)
        {
            _windowFailure ??= failure;
            waiter = _windowWaiter;
            _windowWaiter = null;
        }

        // The woken writer finds the failure when it looks again, and throws it on its own thread.
        if (waiter is not null)
        {
            WriterWakeup.Wake(waiter, _connection);
        }

        // A writer of this stream may be waiting for the connection's window instead.
        _connection.Window.WakeWriters();
    }
}

using Grpc.Core;
using Rpc.Transports.Protocol;

namespace Rpc.Client.Internal;

// The waits on the channel's state: RpcChannel.State, ConnectAsync and WaitForStateChangedAsync,
// and wait-for-ready calls. Each wait is bounded by its caller's token (a call's token fires at
// its deadline) and by dispose, which moves the state to Shutdown and so wakes every waiter.
internal sealed partial class ConnectionManager
{
    /// <summary>Where the connection stands; a connection the server sent GOAWAY on shows as Idle.</summary>
    public ConnectivityState State
    {
        get
        {
            lock (_lock)
            {
                if (!_disposed.IsCancellationRequested)
                {
                    TakeCurrentLocked();
                }
            }

            return _tracker.State;
        }
    }

    /// <summary>
    /// Waits until the state is other than <paramref name="lastObservedState"/>; at once when it
    /// already is. Does not itself connect, as in grpc-dotnet.
    /// </summary>
    public async Task WaitForStateChangedAsync(ConnectivityState lastObservedState, CancellationToken cancellationToken)
    {
        while (true)
        {
            _ = State;
            var (state, changed) = _tracker.Observe();
            if (state != lastObservedState)
            {
                return;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Connects if Idle and waits until Ready, through failed attempts and their backoff; throws
    /// <see cref="OperationCanceledException"/> when the token fires first and
    /// <see cref="ObjectDisposedException"/> once the channel is disposed.
    /// </summary>
    public async Task ConnectAsync(CancellationToken cancellationToken) =>
        await WaitForReadyAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// A connection that takes new calls, waited for through failed attempts: a failure moves the
    /// channel to TransientFailure, and the end of its backoff starts the next attempt because this
    /// waiter counts in <see cref="_demand"/>.
    /// </summary>
    private async Task<MultiplexedConnection> WaitForReadyAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            if (TakeCurrentLocked() is { } ready)
            {
                return ready;
            }

            _demand++;
        }

        try
        {
            while (true)
            {
                Task<MultiplexedConnection>? attempt;
                Task changed;
                lock (_lock)
                {
                    ThrowIfDisposed();
                    if (TakeCurrentLocked() is { } current)
                    {
                        return current;
                    }

                    if (_connecting is null && _tracker.State != ConnectivityState.TransientFailure)
                    {
                        StartAttemptLocked();
                    }

                    attempt = _connecting;
                    changed = _tracker.Observe().Changed;
                }

                if (attempt is null)
                {
                    // In backoff: the timer starts the next attempt (or disposal ends the wait).
                    await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                try
                {
                    return await attempt.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (RpcException)
                {
                    // This attempt failed; the loop waits for the next one.
                }
            }
        }
        finally
        {
            lock (_lock)
            {
                _demand--;
            }
        }
    }
}

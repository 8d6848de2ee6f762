using Grpc.Core;

namespace Rpc.Client.Internal;

/// <summary>
/// The channel's <see cref="ConnectivityState"/> and a signal that fires each time it changes, for
/// <see cref="RpcChannel.WaitForStateChangedAsync"/> and for calls waiting for a connection.
/// </summary>
/// <remarks>
/// Threads: <see cref="ConnectionManager"/> moves the state under its own lock (so a state and the
/// connection fields it describes change together); readers take this object's lock only. The
/// signal's continuations run asynchronously, so completing it under either lock runs no waiter's
/// code there.
/// </remarks>
internal sealed class ConnectivityTracker
{
    private readonly Lock _lock = new();
    private ConnectivityState _state = ConnectivityState.Idle;
    private TaskCompletionSource _changed = NewSignal();

    /// <summary>The state now.</summary>
    public ConnectivityState State
    {
        get
        {
            lock (_lock)
            {
                return _state;
            }
        }
    }

    /// <summary>Moves to <paramref name="state"/>, waking whoever waits for a change; Shutdown is final.</summary>
    public void Set(ConnectivityState state)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            if (_state == state || _state == ConnectivityState.Shutdown)
            {
                return;
            }

            _state = state;
            changed = _changed;
            _changed = NewSignal();
        }

        changed.TrySetResult();
    }

    /// <summary>
    /// The current state and a task that completes at the next change after it. Reading both
    /// under one lock means no change can fall between them unseen.
    /// </summary>
    public (ConnectivityState State, Task Changed) Observe()
    {
        lock (_lock)
        {
            return (_state, _changed.Task);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

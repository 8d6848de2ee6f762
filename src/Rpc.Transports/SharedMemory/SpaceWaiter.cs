using Rpc.Transports.Internal;

namespace Rpc.Transports.SharedMemory;

/// <summary>
/// Waits for space in a full ring without holding a thread-pool thread: the futex sleep happens on
/// a thread of the connection's own, started the first time the ring fills and counted against
/// <see cref="ReceiveThreads"/>. Past that cap the wait polls the ring on a timer instead, slower
/// to notice space but holding no thread at all.
/// </summary>
/// <remarks>
/// Threads: the connection's send loop calls <see cref="WaitAsync"/>, one wait at a time; the
/// waiter thread alone sleeps on the ring; <see cref="Dispose"/> comes from the closing thread,
/// after the ring was aborted (which wakes a sleeping waiter).
/// </remarks>
internal sealed class SpaceWaiter : IDisposable
{
    // How long the idle waiter thread sleeps before it checks whether the connection is gone.
    private static readonly TimeSpan IdleCheck = TimeSpan.FromSeconds(1);

    // The timer of the fallback without a thread: short, since a full ring is a busy connection.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(1);

    private readonly SharedRing _ring;
    private readonly string _name;
    private readonly SemaphoreSlim _requests = new(0, 1);
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource? _pending;
    private bool _started;
    private bool _noThread;
    private volatile bool _disposed;

    public SpaceWaiter(SharedRing ring, string name)
    {
        _ring = ring;
        _name = name;
    }

    /// <summary>Completes when the ring has space; fails when it was aborted or found corrupt.</summary>
    public Task WaitAsync()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_started)
        {
            _started = true;
            _noThread = !ReceiveThreads.TryReserve();
            if (!_noThread)
            {
                new Thread(Run) { IsBackground = true, Name = "Rpc shm space " + _name }.Start();
            }
            else
            {
                _exited.TrySetResult();
            }
        }

        if (_noThread)
        {
            return PollAsync();
        }

        var pending = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _pending, pending);
        _requests.Release();
        return pending.Task;
    }

    /// <summary>Ends the waiter thread; whether it ended within <paramref name="timeout"/>.</summary>
    public async ValueTask<bool> StopAsync(TimeSpan timeout)
    {
        Dispose();
        try
        {
            await _exited.Task.WaitAsync(timeout).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_started)
        {
            _exited.TrySetResult();
            return;
        }

        try
        {
            _requests.Release();
        }
        catch (SemaphoreFullException)
        {
            // A request is already there to wake the thread.
        }
    }

    private void Run()
    {
        try
        {
            while (!_disposed)
            {
                if (!_requests.Wait(IdleCheck) || _disposed)
                {
                    continue;
                }

                var pending = Volatile.Read(ref _pending)!;
                try
                {
                    while (!_ring.HasSpace)
                    {
                        _ring.SleepForSpace();
                    }

                    pending.TrySetResult();
                }
                catch (IOException ex)
                {
                    pending.TrySetException(ex);
                }
            }

            Volatile.Read(ref _pending)?.TrySetException(new IOException("The shared-memory connection is closed."));
        }
        finally
        {
            ReceiveThreads.Release();
            _exited.TrySetResult();
        }
    }

    private async Task PollAsync()
    {
        while (!_ring.HasSpace)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            await Task.Delay(PollInterval).ConfigureAwait(false);
        }
    }
}

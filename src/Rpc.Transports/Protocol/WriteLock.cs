namespace Rpc.Transports.Protocol;

/// <summary>
/// The connection's write lock: one writer at a time copies frames into the output. Uncontended,
/// entering and leaving are one interlocked operation each; a <see cref="SemaphoreSlim"/> took and
/// left its monitor twice, and a streaming handler's every message paid for it. Writers that find
/// the lock held queue on a semaphore and are let in one at a time, in the order it wakes them.
/// </summary>
/// <remarks>
/// Any thread. <see cref="_count"/> is the holder plus the writers waiting or about to wait: a leaver
/// that finds it above zero releases the semaphore once, for exactly one of them, even if that one
/// has not begun to wait yet (the semaphore keeps the count). A wait cannot be cancelled: writers
/// hold the lock only to copy, never while waiting on the peer, so it is always short.
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "A SemaphoreSlim whose AvailableWaitHandle is never asked for holds nothing that needs disposing.")]
internal sealed class WriteLock
{
    private readonly SemaphoreSlim _waiters = new(0, int.MaxValue);
    private int _count;

    public ValueTask EnterAsync() =>
        Interlocked.Increment(ref _count) == 1 ? ValueTask.CompletedTask : new ValueTask(_waiters.WaitAsync());

    public void Exit()
    {
        if (Interlocked.Decrement(ref _count) > 0)
        {
            _waiters.Release();
        }
    }
}

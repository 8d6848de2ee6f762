namespace Rpc.Transports.Protocol;

/// <summary>
/// Bytes written to a transport's output that its send loop has not handed to the medium yet. The
/// protocol adds what it flushes; the send loop subtracts what it sent. Call data waits while the
/// backlog is above the high-water mark, so a peer that stops reading holds at most that much of
/// this side's memory; the read loop's control frames never wait here, so it cannot deadlock.
/// </summary>
/// <remarks>
/// Writers (under the protocol's write lock) add; the send loop subtracts and wakes waiters; any
/// writer may wait. A waiter is one shared task, made only when someone has to wait.
/// </remarks>
internal sealed class OutputBacklog
{
    private readonly Lock _lock = new();
    private long _unsent;
    private long _peak;
    private bool _closed;
    private TaskCompletionSource? _belowMark;

    /// <summary>Unsent bytes above which call data waits; set by the protocol from its options.</summary>
    public long HighWaterMark { get; set; } = ConnectionOptions.DefaultOutputHighWaterMark;

    public long UnsentBytes => Volatile.Read(ref _unsent);

    /// <summary>The most ever unsent at once; for tests that check the bound holds.</summary>
    public long PeakUnsentBytes => Volatile.Read(ref _peak);

    public bool IsAboveMark => Volatile.Read(ref _unsent) > HighWaterMark;

    /// <summary>Writer, before it flushes: <paramref name="bytes"/> more are waiting to be sent.</summary>
    public void Added(long bytes)
    {
        var now = Interlocked.Add(ref _unsent, bytes);
        var peak = Volatile.Read(ref _peak);
        while (now > peak && Interlocked.CompareExchange(ref _peak, now, peak) != peak)
        {
            peak = Volatile.Read(ref _peak);
        }
    }

    /// <summary>Send loop: <paramref name="bytes"/> went to the medium.</summary>
    public void Sent(long bytes)
    {
        if (Interlocked.Add(ref _unsent, -bytes) > HighWaterMark || Volatile.Read(ref _belowMark) is null)
        {
            return;
        }

        TaskCompletionSource? waiters;
        lock (_lock)
        {
            waiters = _belowMark;
            _belowMark = null;
        }

        waiters?.TrySetResult();
    }

    /// <summary>The send loop ended: nothing will drain any more, so nobody waits for it.</summary>
    public void Close()
    {
        TaskCompletionSource? waiters;
        lock (_lock)
        {
            _closed = true;
            waiters = _belowMark;
            _belowMark = null;
        }

        waiters?.TrySetResult();
    }

    /// <summary>Writer: waits while the backlog is above the mark, as long as <paramref name="cancellationToken"/> allows.</summary>
    public ValueTask WaitForRoomAsync(CancellationToken cancellationToken) =>
        Volatile.Read(ref _unsent) <= HighWaterMark ? ValueTask.CompletedTask : WaitSlowAsync(cancellationToken);

    /// <summary>Tests: runs in a waiter after it has published its wait and before it looks at the backlog again.</summary>
    internal Action? BeforeRecheck { get; set; }

    // The waiter publishes its task before it re-reads the backlog, and Sent subtracts (a full
    // fence) before it looks for a task: whichever comes second sees the other, so a drain that
    // lands between the waiter's first look and its wait still wakes it. (Checking first and
    // publishing after lost exactly that wake-up, and a writer waited forever on an empty pipe.)
    private async ValueTask WaitSlowAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (_closed)
                {
                    return;
                }

                var waiters = _belowMark ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                Interlocked.MemoryBarrier();
                BeforeRecheck?.Invoke();
                if (Volatile.Read(ref _unsent) <= HighWaterMark)
                {
                    if (ReferenceEquals(_belowMark, waiters))
                    {
                        _belowMark = null;
                    }

                    waiters.TrySetResult();
                    return;
                }

                wait = waiters.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}

namespace Rpc.Transports.Protocol;

/// <summary>
/// How many streams of a connection count against the concurrency limit. The server refuses a
/// call start beyond its own limit; the client waits for a slot under the peer's limit before it
/// sends a call start, so an honest burst queues here instead of being refused.
/// </summary>
/// <remarks>
/// Any thread takes and releases. Each stream releases at most once (its own flag), so the count
/// can never pass the limit; the server releases before its trailers or CANCEL are written, so a
/// client that starts its next call on seeing them never finds the slot still taken.
/// </remarks>
// Neither field holds a wait handle unless someone asks for one (nobody here does), and a late
// release racing with the connection's end must not meet a disposed object: left to the GC.
#pragma warning disable CA1001
internal sealed class StreamSlots
{
    private readonly SemaphoreSlim _free;
    private readonly CancellationTokenSource _closed = new();

    public StreamSlots(int limit)
    {
        Limit = limit;
        _free = new SemaphoreSlim(limit, limit);
    }

    public int Limit { get; }

    public int InUse => Limit - _free.CurrentCount;

    /// <summary>Server: takes a slot if one is free; never waits.</summary>
    public bool TryTake() => _free.Wait(0);

    /// <summary>
    /// Client: waits for a free slot, as long as <paramref name="cancellationToken"/> allows.
    /// False when the connection closed first.
    /// </summary>
    public async ValueTask<bool> TakeAsync(CancellationToken cancellationToken)
    {
        if (_free.Wait(0, CancellationToken.None))
        {
            return true;
        }

        // Only a call that has to queue pays for a linked token.
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closed.Token);
        try
        {
            await _free.WaitAsync(linked.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    public void Release() => _free.Release();

    /// <summary>The connection is closing: queued calls stop waiting.</summary>
    public void Close()
    {
        try
        {
            _closed.Cancel();
        }
        catch (AggregateException)
        {
            // A waiter's continuation threw; it has its own error path.
        }
    }
}
#pragma warning restore CA1001

namespace Rpc.Transports.Protocol;

/// <summary>
/// The connection-level flow-control window, both directions (docs/protocol.md, "Flow control").
/// Every MESSAGE payload byte spends its stream's window and this one, so all streams together
/// never have more than <see cref="ConnectionSettings.ConnectionWindowSize"/> bytes delivered to
/// the receiver and not yet given back, whatever the number of streams.
/// </summary>
/// <remarks>
/// Threads: the send side is taken from by any call's writer and refilled by the read loop (a
/// WINDOW_UPDATE on stream 0); all of it under <see cref="_sendLock"/>. The receive side is spent by
/// the read loop alone and given back by any thread that frees received bytes (a reader taking a
/// message, a stream closing), with interlocked counters: the read loop never waits on a lock here.
/// </remarks>
internal sealed class ConnectionWindow
{
    private readonly Lock _sendLock = new();
    private readonly int _localSize;
    private long _sendAvailable;
    // One signal for every waiting writer, replaced after each wake: writers re-check their own
    // stream and the window, so a spurious wake costs a loop, and nobody waits for a specific amount.
    private TaskCompletionSource? _sendSignal;
    private Exception? _sendFailure;

    private long _receiveAvailable;
    private long _owed;

    public ConnectionWindow(int localSize, int peerSize)
    {
        _localSize = localSize;
        _receiveAvailable = localSize;
        _sendAvailable = peerSize;
    }

    /// <summary>Bytes the peer may still send before this side gives more back.</summary>
    public long ReceiveAvailable => Interlocked.Read(ref _receiveAvailable);

    /// <summary>Received bytes freed but not yet given back (batched to half a window).</summary>
    public long Owed => Interlocked.Read(ref _owed);

    /// <summary>Bytes this side may still send.</summary>
    public long SendAvailable
    {
        get
        {
            lock (_sendLock)
            {
                return _sendAvailable;
            }
        }
    }

    /// <summary>Takes <paramref name="wanted"/> bytes if they are all there; never waits.</summary>
    public bool TryTake(int wanted)
    {
        lock (_sendLock)
        {
            if (_sendAvailable < wanted || _sendFailure is not null)
            {
                return false;
            }

            _sendAvailable -= wanted;
            return true;
        }
    }

    /// <summary>
    /// Takes between 1 and <paramref name="wanted"/> bytes, waiting while none are there;
    /// <paramref name="throwIfStreamFailed"/> lets a writer whose stream ended stop waiting.
    /// </summary>
    public async ValueTask<int> TakeAsync(int wanted, Action throwIfStreamFailed, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_sendLock)
            {
                // Checked under the lock: a stream that fails sets its failure before it wakes
                // writers (which takes this lock), so either the check sees the failure or the wake
                // sees this writer's signal. Checked before the lock, a failure in between was lost.
                throwIfStreamFailed();
                if (_sendFailure is { } failure)
                {
                    throw new IOException(failure.Message, failure);
                }

                if (_sendAvailable > 0)
                {
                    var granted = (int)Math.Min(_sendAvailable, wanted);
                    _sendAvailable -= granted;
                    return granted;
                }

                _sendSignal ??= WriterWakeup.NewSignal();
                wait = _sendSignal.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Returns bytes a writer took but did not send.</summary>
    public void GiveBack(int bytes) => Add(bytes);

    /// <summary>Read loop: a WINDOW_UPDATE on stream 0; false when the window would pass 2^31-1.</summary>
    public bool Add(int increment)
    {
        lock (_sendLock)
        {
            _sendAvailable += increment;
            if (_sendAvailable > int.MaxValue)
            {
                return false;
            }
        }

        WakeWriters();
        return true;
    }

    /// <summary>Wakes every waiting writer to re-check (a stream of theirs may have ended).</summary>
    public void WakeWriters()
    {
        TaskCompletionSource? signal;
        lock (_sendLock)
        {
            signal = _sendSignal;
            _sendSignal = null;
        }

        if (signal is not null)
        {
            WriterWakeup.Wake(signal, Connection);
        }
    }

    /// <summary>Where woken writers may resume on the receive thread; set once by the connection that owns the window.</summary>
    public MultiplexedConnection? Connection { get; init; }

    /// <summary>The connection is closing: waiting and later writers fail with <paramref name="failure"/>.</summary>
    public void Fail(Exception failure)
    {
        lock (_sendLock)
        {
            _sendFailure ??= failure;
        }

        WakeWriters();
    }

    /// <summary>
    /// Read loop: a MESSAGE of <paramref name="length"/> bytes arrived. Beyond the window this side
    /// granted it is a flow-control error: the peer ignores the only bound on what all its streams
    /// together make this side hold.
    /// </summary>
    public void Spend(int length)
    {
        if (length > 0 && Interlocked.Add(ref _receiveAvailable, -length) < 0)
        {
            throw new ProtocolException($"Flow-control error: the connection received {length} bytes beyond the {_localSize}-byte connection window it granted.");
        }
    }

    /// <summary>
    /// Any thread: <paramref name="bytes"/> received earlier were freed. Returns the increment to
    /// send now (the owed bytes, once they reach half a window), already counted as granted; 0 to wait.
    /// </summary>
    public int Free(int bytes)
    {
        if (bytes <= 0 || Interlocked.Add(ref _owed, bytes) < _localSize / 2)
        {
            return 0;
        }

        var grant = Interlocked.Exchange(ref _owed, 0);
        if (grant <= 0)
        {
            return 0;
        }

        // Counted before the update leaves, so the peer can never legitimately get ahead of it.
        Interlocked.Add(ref _receiveAvailable, grant);
        return (int)grant;
    }
}

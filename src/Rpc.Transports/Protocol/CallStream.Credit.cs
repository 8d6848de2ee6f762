namespace Rpc.Transports.Protocol;

// Receive credit (see docs/protocol.md, "Flow control"), shared by the read loop (as messages
// arrive) and the reader (as it takes them): under SyncRoot, inside the queue's own critical
// section so each side locks once per message.
internal sealed partial class CallStream
{
    private int _heldCredit;
    private int _creditToSend;
    private int _completeMessagesQueued;

    // Bytes the peer may still send on this stream: the read loop spends, granting credit adds.
    private long _receiveWindow;

    // Bytes freed under SyncRoot for the connection window, handed to it after the lock is left
    // (FlushFreedBytes): giving credit back may write, and nothing writes under a stream's lock.
    private int _freedForConnection;

    protected override void OnEnqueuedLocked(int bytes)
    {
        _completeMessagesQueued++;
        HoldLocked(bytes);
    }

    protected override int OnDequeuedLocked(int length)
    {
        _completeMessagesQueued--;
        return ReleaseHeld(_completeMessagesQueued == 0 ? _heldCredit : Math.Min(_heldCredit, length));
    }

    private int OnPartialReceived(int length)
    {
        lock (SyncRoot)
        {
            if (!HoldLocked(length))
            {
                return 0;
            }

            // With no whole message waiting, the reader needs this message's rest to make progress:
            // holding its credit back could stall the sender forever.
            return _completeMessagesQueued == 0 ? ReleaseHeld(_heldCredit) : 0;
        }
    }

    /// <summary>
    /// Holds received bytes against both windows; a closed stream holds nothing (its bytes are freed
    /// for the connection at once), so a stream closing never strands connection credit. False when closed.
    /// </summary>
    private bool HoldLocked(int bytes)
    {
        _heldCredit += bytes;
        if (!IsClosed)
        {
            return true;
        }

        FreeAllHeldLocked();
        return false;
    }

    /// <summary>Under SyncRoot, once the stream is closed: whatever it holds goes back to the connection.</summary>
    private void FreeAllHeldLocked()
    {
        _freedForConnection += _heldCredit;
        _heldCredit = 0;
    }

    /// <summary>After SyncRoot is left: hands bytes freed under it to the connection window.</summary>
    private void FlushFreedBytes()
    {
        // Whoever adds freed bytes (under SyncRoot) flushes them itself afterwards, so seeing none
        // here, even as another thread adds some, strands nothing; and the read loop, which
        // rarely frees any, skips the interlocked exchange.
        if (Volatile.Read(ref _freedForConnection) == 0)
        {
            return;
        }

        var freed = Interlocked.Exchange(ref _freedForConnection, 0);
        if (freed > 0)
        {
            _connection.FreeConnectionWindow(freed);
        }
    }

    private int ReleaseHeld(int amount)
    {
        _heldCredit -= amount;
        _freedForConnection += amount;
        _creditToSend += amount;
        if (_creditToSend < _connection.LocalSettings.InitialWindowSize / 2)
        {
            return 0;
        }

        var grant = _creditToSend;
        _creditToSend = 0;
        return grant;
    }

    /// <summary>
    /// Read loop: a MESSAGE of <paramref name="length"/> bytes arrived. Bytes beyond the credit
    /// granted are a flow-control error: the peer ignores the window that bounds what a stream
    /// holds, so the connection ends (docs/protocol.md, "Flow control").
    /// </summary>
    private void SpendReceiveWindow(int length)
    {
        if (length > 0 && Interlocked.Add(ref _receiveWindow, -length) < 0)
        {
            throw new ProtocolException($"Flow-control error: stream {Id} received {length} bytes beyond the {_connection.LocalSettings.InitialWindowSize}-byte window it granted.");
        }
    }

    private ValueTask GrantCreditAsync(int credit)
    {
        FlushFreedBytes();
        if (credit <= 0 || _remoteEnded)
        {
            return ValueTask.CompletedTask;
        }

        // Counted before the update leaves, so the peer can never legitimately get ahead of it.
        Interlocked.Add(ref _receiveWindow, credit);
        return _connection.TrySendWindowUpdateAsync(Id, credit);
    }
}

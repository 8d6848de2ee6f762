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

    protected override void OnEnqueuedLocked(int bytes)
    {
        _heldCredit += bytes;
        _completeMessagesQueued++;
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
            _heldCredit += length;
            // With no whole message waiting, the reader needs this message's rest to make progress:
            // holding its credit back could stall the sender forever.
            return _completeMessagesQueued == 0 ? ReleaseHeld(_heldCredit) : 0;
        }
    }

    private int ReleaseHeld(int amount)
    {
        _heldCredit -= amount;
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
        if (credit <= 0 || _remoteEnded)
        {
            return ValueTask.CompletedTask;
        }

        // Counted before the update leaves, so the peer can never legitimately get ahead of it.
        Interlocked.Add(ref _receiveWindow, credit);
        return _connection.TrySendWindowUpdateAsync(Id, credit);
    }
}

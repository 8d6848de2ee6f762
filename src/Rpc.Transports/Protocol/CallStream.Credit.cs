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

    private ValueTask GrantCreditAsync(int credit) =>
        credit > 0 && !_remoteEnded ? _connection.TrySendWindowUpdateAsync(Id, credit) : ValueTask.CompletedTask;
}

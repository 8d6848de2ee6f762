using System.Net.Sockets;
using Rpc.Transports.Internal;

namespace Rpc.Transports.MessageQueues;

/// <summary>
/// A connection over two POSIX message queues, one per direction. The byte stream is cut into
/// messages of the queue's size; an empty message of priority 0 ends it. A receive thread of the
/// connection's own waits in mq_timedreceive; the send loop sends without waiting and hands a
/// full queue to <see cref="MqSendWaiter"/>. Both threads count against <see cref="ReceiveThreads"/>
/// (whoever creates a connection reserves them first, see <see cref="MqThreads"/>). The control
/// socket carries nothing after the handshake: its end-of-stream is how each side learns the
/// other is gone, since a queue outlives the process at its other end.
/// </summary>
/// <remarks>
/// Threads: the receive thread owns reading the incoming queue and <c>_buffer</c>; the send loop,
/// then the waiter, own writing the outgoing queue; the watcher task owns the control socket's
/// reads. Anyone may close or wake: closing sets flags and sends an empty message of
/// <see cref="WakePriority"/> to this side's own incoming queue, which ends the receive wait at once.
/// </remarks>
internal sealed class MessageQueueConnection : TransportConnection
{
    /// <summary>The priority of the empty message a side sends itself to wake its receive thread; data and end are priority 0.</summary>
    private const uint WakePriority = 1;

    /// <summary>How long one receive wait lasts before the thread looks again; a wake message usually ends it first.</summary>
    private static readonly TimeSpan ReceiveSlice = TimeSpan.FromSeconds(1);

    private readonly Socket _control;
    private readonly MqQueuePair _queues;
    private readonly MqSendWaiter _waiter;
    private readonly Task _watcher;
    private readonly byte[] _buffer;
    private int _bufferedStart;
    private int _bufferedEnd;
    private volatile bool _peerGone;
    private volatile bool _closed;

    /// <param name="control">The control socket, now the connection's.</param>
    /// <param name="queues">The opened queues, now the connection's.</param>
    /// <param name="peer">The peer's description.</param>
    /// <param name="peerIdentity">The peer's credentials.</param>
    /// <remarks>The caller has reserved two threads (<see cref="MqThreads.TryReserve"/>); the connection releases them.</remarks>
    public MessageQueueConnection(Socket control, MqQueuePair queues, string peer, PeerIdentity peerIdentity)
        : base(peer, maxReceiveBuffer: 1024 * 1024)
    {
        PeerIdentity = peerIdentity;
        _control = control;
        _queues = queues;
        // Used only when the pipe offers less room than a message; a message never exceeds it (checked at open).
        _buffer = new byte[queues.IncomingMessageSize];
        _waiter = new MqSendWaiter(queues.Outgoing, queues.OutgoingMessageSize, () => _peerGone ? "The peer closed the connection." : null, peer);
        _watcher = WatchControlAsync();
        Start();
    }

    protected override ReceiveMode Receiving => ReceiveMode.Thread;

    protected override int Receive(Span<byte> buffer)
    {
        if (_bufferedEnd > _bufferedStart)
        {
            return TakeBuffered(buffer);
        }

        while (true)
        {
            if (_closed)
            {
                throw new IOException("The connection was closed.");
            }

            var peerGone = _peerGone;
            var direct = buffer.Length >= _queues.IncomingMessageSize;
            var received = MqNative.Receive(_queues.Incoming, direct ? buffer : _buffer, out var priority,
                peerGone ? MqNative.Immediately : MqNative.Deadline(ReceiveSlice));
            if (received < 0)
            {
                // Everything the peer sent before it went was in the queue before its socket closed.
                if (peerGone)
                {
                    return 0;
                }

                continue;
            }

            if (received == 0)
            {
                if (priority == WakePriority)
                {
                    continue;
                }

                return 0;
            }

            if (direct)
            {
                return received;
            }

            _bufferedStart = 0;
            _bufferedEnd = received;
            return TakeBuffered(buffer);
        }
    }

    protected override ValueTask SendAsync(ReadOnlyMemory<byte> buffer)
    {
        if (_peerGone)
        {
            throw new IOException("The peer closed the connection.");
        }

        var size = _queues.OutgoingMessageSize;
        for (var rest = buffer; !rest.IsEmpty; rest = rest[Math.Min(size, rest.Length)..])
        {
            if (!MqNative.Send(_queues.Outgoing, rest.Span[..Math.Min(size, rest.Length)], 0, MqNative.Immediately))
            {
                return new ValueTask(_waiter.SendAsync(rest));
            }
        }

        return ValueTask.CompletedTask;
    }

    protected override void ShutdownSend()
    {
        if (!MqNative.Send(_queues.Outgoing, ReadOnlySpan<byte>.Empty, 0, MqNative.Immediately))
        {
            // Full: the waiter sends the end once the peer makes room; if it never does, the
            // control socket's close tells it all the same.
            _ = _waiter.SendEndAsync().ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
        }
    }

    protected override void CloseMedium()
    {
        _closed = true;
        _waiter.Stop();
        WakeReceiver();
        try
        {
            _control.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already disconnected.
        }

        _control.Dispose();
    }

    protected override async ValueTask DisposeMediumAsync()
    {
        await _watcher.ConfigureAwait(false);
        // The receive thread has ended (the base class awaited it); the waiter ends within its slice.
        // Should it somehow not, its descriptor is left to the process's end rather than closed under it.
        if (await _waiter.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false))
        {
            _waiter.Dispose();
            _queues.Dispose();
        }

        MqThreads.Release();
    }

    private int TakeBuffered(Span<byte> buffer)
    {
        var count = Math.Min(buffer.Length, _bufferedEnd - _bufferedStart);
        _buffer.AsSpan(_bufferedStart, count).CopyTo(buffer);
        _bufferedStart += count;
        return count;
    }

    private void WakeReceiver()
    {
        try
        {
            // A full queue needs no wake: the receive thread is not waiting.
            MqNative.Send(_queues.Incoming, ReadOnlySpan<byte>.Empty, WakePriority, MqNative.Immediately);
        }
        catch (IOException)
        {
            // The receive slice ends the wait instead.
        }
    }

    private async Task WatchControlAsync()
    {
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        var buffer = new byte[16];
        try
        {
            while (await _control.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false) > 0)
            {
                // Nothing is sent on the control socket after the handshake.
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Reset or closed: the peer is gone either way.
        }
        finally
        {
            // What the peer wrote before it went is still read; then the receive side ends.
            _peerGone = true;
            WakeReceiver();
        }
    }
}

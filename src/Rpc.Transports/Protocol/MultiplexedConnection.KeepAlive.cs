namespace Rpc.Transports.Protocol;

// Keepalive (ConnectionOptions.KeepAlivePingDelay/Timeout), as HTTP/2 clients and Kestrel do it:
// when nothing has arrived for a delay, PING; when the ack (or anything else) does not arrive within
// the timeout, the peer is taken for dead and the connection is aborted, failing its calls
// Unavailable. A TCP peer that vanished without a FIN is otherwise only found by the next write.
// Threads: the read loop stamps _lastReadTicks after every read; the timer thread reads it and owns
// the probe (one at a time, _probing).
internal sealed partial class MultiplexedConnection
{
    private ITimer? _keepAliveTimer;
    private long _lastReadTicks;
    private int _probing;
    private Exception? _abortReason;

    private void StartKeepAlive(TimeSpan delay)
    {
        if (delay == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        MarkRead();
        _keepAliveTimer = _timeProvider.CreateTimer(static state => ((MultiplexedConnection)state!).OnKeepAliveTick(), this, delay, delay);
    }

    /// <summary>Read loop: something arrived, so the peer is alive.</summary>
    private void MarkRead()
    {
        if (_keepAliveDelay != Timeout.InfiniteTimeSpan)
        {
            Volatile.Write(ref _lastReadTicks, _timeProvider.GetTimestamp());
        }
    }

    private void OnKeepAliveTick()
    {
        var quiet = _timeProvider.GetElapsedTime(Volatile.Read(ref _lastReadTicks));
        if (quiet < _keepAliveDelay || Volatile.Read(ref _closing) == 1 || Interlocked.Exchange(ref _probing, 1) == 1)
        {
            return;
        }

        _ = ProbeAsync();
    }

    private async Task ProbeAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(_keepAliveTimeout, _timeProvider);
            await PingAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Anything read while the ping was out proves the peer alive as well as the ack would.
            if (_timeProvider.GetElapsedTime(Volatile.Read(ref _lastReadTicks)) >= _keepAliveTimeout)
            {
                var reason = new IOException($"The peer did not answer a keepalive ping within {_keepAliveTimeout.TotalSeconds:0.###} s.");
                ConnectionLog.KeepAliveTimedOut(_logger, Peer, _keepAliveTimeout.TotalSeconds);
                Volatile.Write(ref _abortReason, reason);
                Abort(reason);
            }
        }
        catch (IOException)
        {
            // The connection is closing anyway.
        }
        finally
        {
            Volatile.Write(ref _probing, 0);
        }
    }
}

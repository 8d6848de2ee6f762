namespace Rpc.Transports.MessageQueues;

/// <summary>
/// The one thread that waits for room in a connection's outgoing queue, so that no thread-pool
/// thread ever blocks in mq_timedsend while the peer is slow, stopped or gone. The send loop tries
/// each message without waiting; only when the queue is full does it hand the rest to this thread
/// and await it. It sleeps in bounded slices, so closing the connection or losing the peer ends its
/// wait within <see cref="Slice"/>.
/// </summary>
/// <remarks>
/// Threads: the send loop owns posting (one request at a time: it awaits each), this thread owns
/// sending what was posted; <see cref="Stop"/> may come from any thread.
/// </remarks>
internal sealed class MqSendWaiter : IDisposable
{
    /// <summary>How long one wait lasts before the thread looks whether the connection is still there.</summary>
    public static readonly TimeSpan Slice = TimeSpan.FromMilliseconds(200);

    private readonly int _queue;
    private readonly int _messageSize;
    private readonly Func<string?> _endReason;
    private readonly SemaphoreSlim _requests = new(0);
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ReadOnlyMemory<byte> _pending;
    private bool _pendingIsEnd;
    private TaskCompletionSource? _pendingDone;
    private volatile bool _stopped;

    /// <param name="queue">The outgoing queue's descriptor (closed only after <see cref="StopAsync"/> ends).</param>
    /// <param name="messageSize">The queue's message size, the size bytes are cut to.</param>
    /// <param name="endReason">Why sending can no longer succeed (the peer is gone), or null while it can.</param>
    /// <param name="peer">The peer's description, for the thread's name.</param>
    public MqSendWaiter(int queue, int messageSize, Func<string?> endReason, string peer)
    {
        _queue = queue;
        _messageSize = messageSize;
        _endReason = endReason;
        new Thread(Run) { IsBackground = true, Name = "Rpc mq send " + peer }.Start();
    }

    /// <summary>Sends <paramref name="bytes"/> (cut to messages), waiting for room as long as it takes.</summary>
    public Task SendAsync(ReadOnlyMemory<byte> bytes) => Post(bytes, isEnd: false);

    /// <summary>Sends the empty message that ends the stream, once there is room.</summary>
    public Task SendEndAsync() => Post(ReadOnlyMemory<byte>.Empty, isEnd: true);

    /// <summary>Fails the wait in progress (within <see cref="Slice"/>) and ends the thread.</summary>
    public void Stop()
    {
        _stopped = true;
        _requests.Release();
    }

    /// <summary>Stops and waits, at most <paramref name="timeout"/>, for the thread to end; false if it did not.</summary>
    public async Task<bool> StopAsync(TimeSpan timeout)
    {
        Stop();
        try
        {
            await _ended.Task.WaitAsync(timeout).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Frees the semaphore; only once <see cref="StopAsync"/> has seen the thread end.</summary>
    public void Dispose() => _requests.Dispose();

    private Task Post(ReadOnlyMemory<byte> bytes, bool isEnd)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending = bytes;
        _pendingIsEnd = isEnd;
        // A full fence: either the thread, once it sees the stop, takes this request and fails it,
        // or this side sees the stop below and fails it itself; never neither (a send loop awaiting
        // a request no thread will serve would hold the connection's dispose forever).
        Interlocked.Exchange(ref _pendingDone, done);
        if (_stopped)
        {
            Interlocked.Exchange(ref _pendingDone, null)?.TrySetException(new IOException("The connection was closed."));
            return done.Task;
        }

        // The semaphore's release publishes the fields above to the thread.
        _requests.Release();
        return done.Task;
    }

    private void Run()
    {
        try
        {
            while (!_stopped)
            {
                // Bounded, though Stop releases it: the thread never waits on anything that may not come.
                if (!_requests.Wait(TimeSpan.FromSeconds(1)) || _stopped)
                {
                    continue;
                }

                var done = Interlocked.Exchange(ref _pendingDone, null);
                if (done is null)
                {
                    continue;
                }

                try
                {
                    if (_pendingIsEnd)
                    {
                        SendOne(ReadOnlySpan<byte>.Empty);
                    }
                    else
                    {
                        for (var rest = _pending; !rest.IsEmpty; rest = rest[Math.Min(_messageSize, rest.Length)..])
                        {
                            SendOne(rest.Span[..Math.Min(_messageSize, rest.Length)]);
                        }
                    }

                    done.SetResult();
                }
                catch (IOException ex)
                {
                    done.SetException(ex);
                }
            }
        }
        finally
        {
            // A request posted as the thread stopped must not leave the send loop waiting.
            Interlocked.Exchange(ref _pendingDone, null)?.TrySetException(new IOException("The connection was closed."));
            _ended.SetResult();
        }
    }

    private void SendOne(ReadOnlySpan<byte> message)
    {
        while (!MqNative.Send(_queue, message, 0, MqNative.Deadline(Slice)))
        {
            if (_stopped)
            {
                throw new IOException("The connection was closed.");
            }

            if (_endReason() is { } reason)
            {
                throw new IOException(reason);
            }
        }
    }
}

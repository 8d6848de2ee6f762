using Grpc.Core;

namespace Rpc.Transports.Protocol;

/// <summary>
/// One call on a <see cref="MultiplexedConnection"/>: the queue of messages received, the send
/// window, and the call's end (trailers or a reset). The connection's read loop feeds it; the call
/// object on the client or server side reads and writes through it.
/// </summary>
/// <remarks>
/// The stream is split by the thread that owns each part, one file each:
/// <list type="bullet">
/// <item><c>CallStream.cs</c> (this file): identity and the end of the call. Closing is one
/// interlocked exchange, so exactly one thread (read loop, writer, deadline timer, token callback,
/// shutdown) settles the call; what it settles is published under <see cref="MessageQueue.SyncRoot"/>
/// or through the volatile <c>_closed</c>.</item>
/// <item><c>CallStream.Receive.cs</c>: the read loop alone. It owns the assembly of a message that
/// spans frames; no other thread reads or frees it, a reset from elsewhere only marks the stream.</item>
/// <item><c>CallStream.Credit.cs</c>: receive credit, shared by the read loop and the reader under
/// <see cref="MessageQueue.SyncRoot"/>; the receive window is a counter both update atomically.</item>
/// <item><c>CallStream.Call.cs</c> and <c>CallStream.SendWindow.cs</c>: the call object's one reader
/// and one writer at a time (gRPC allows one pending read and write per call); the read loop only
/// adds window.</item>
/// </list>
/// </remarks>
internal sealed partial class CallStream : MessageQueue
{
    internal const string ReceiveTooLarge = "Received message exceeds the maximum configured message size.";

    // How long a writer whose send failed waits for its connection to read to its end (see StatusAfterBrokenSendAsync).
    private static readonly TimeSpan BrokenSendGrace = TimeSpan.FromSeconds(1);

    private readonly MultiplexedConnection _connection;
    private readonly bool _isClient;
    private TaskCompletionSource<Metadata>? _responseHeaders;
    private Metadata? _receivedHeaders;
    // Whether waiters resume on the read loop (the connection's option, or a blocking call's own);
    // set before the stream is published to the read loop, read under SyncRoot after.
    private bool _inline;

    private int _closed;
    // 1 while the stream counts against its connection's concurrency limit; released once.
    private int _holdsSlot;
    private volatile bool _remoteEnded;
    private Status? _resetStatus;
    private TrailersPayload? _trailers;

    public CallStream(MultiplexedConnection connection, uint id, bool isClient)
    {
        _connection = connection;
        Id = id;
        _windowAvailable = connection.PeerSettings.InitialWindowSize;
        _receiveWindow = connection.LocalSettings.InitialWindowSize;
        _isClient = isClient;
        if (connection.InlineContinuations)
        {
            RunContinuationsInline();
        }
    }

    /// <summary>
    /// This stream's reader and response-headers waiters resume on the read loop, not the pool.
    /// Before the stream is started: a blocking call's own thread waits for its response, so the
    /// read loop completing it directly saves a hop and runs no user continuation.
    /// </summary>
    public void RunContinuationsInline()
    {
        _inline = true;
        ResumeReadersInline();
    }

    protected override bool TryDefer(Action<object?> wake) => _connection.TryDefer(wake, this);

    /// <summary>The stream id; 0 on the client until the call start is written.</summary>
    public uint Id { get; internal set; }

    public MultiplexedConnection Connection => _connection;

    public IStreamObserver? Observer { get; set; }

    /// <summary>
    /// Client: the response headers. A call the server ended without headers has empty ones; a call
    /// torn down before any arrived fails with its status as an <see cref="RpcException"/>.
    /// </summary>
    public Task<Metadata> ResponseHeaders
    {
        get
        {
            if (!_isClient)
            {
                throw new InvalidOperationException("Only a client stream has response headers.");
            }

            lock (SyncRoot)
            {
                // Made on demand: most calls never ask for their headers.
                if (_responseHeaders is null)
                {
                    _responseHeaders = new TaskCompletionSource<Metadata>(_inline ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously);
                    if (_receivedHeaders is { } received)
                    {
                        _responseHeaders.SetResult(received);
                    }
                    else if (_resetStatus is { } failure)
                    {
                        _responseHeaders.SetException(new RpcException(failure));
                    }
                }

                return _responseHeaders.Task;
            }
        }
    }

    /// <summary>Client: the trailers, once the server ended the call.</summary>
    public TrailersPayload? Trailers => Volatile.Read(ref _closed) == 1 ? _trailers : null;

    /// <summary>The status the stream was torn down with, if it was.</summary>
    /// <summary>Where a message this stream sends may be serialized straight into; null when the connection maps none.</summary>
    public Mapping.OutgoingRegions? OutgoingRegions => _connection.OutgoingRegions;

    public Status? ResetStatus => Volatile.Read(ref _closed) == 1 ? _resetStatus : null;

    public bool IsClosed => Volatile.Read(ref _closed) == 1;

    /// <summary>Tears the stream down from this side and tells the peer with CANCEL.</summary>
    /// <remarks>Any thread. The assembly is left to the read loop, which is asked to release it.</remarks>
    public async ValueTask ResetAsync(Status status, bool notifyObserver = false)
    {
        if (!TryClose())
        {
            return;
        }

        MarkReset(status);
        ReleaseSlotOnClose(byPeer: false);
        _connection.RemoveStream(this);
        _connection.RequestAssemblySweep();
        if (notifyObserver)
        {
            Observer?.OnReset(status);
        }

        // The id is read under the write lock, where a call start assigns it: a call start either
        // went out before this CANCEL (which then names it) or sees the reset and never goes out.
        await _connection.TrySendCancelAsync(this, status).ConfigureAwait(false);
    }

    /// <summary>The stream now counts against its connection's concurrency limit.</summary>
    internal void OnSlotTaken() => Volatile.Write(ref _holdsSlot, 1);

    /// <summary>
    /// Server: the call is done with this stream, which stops counting against the connection's
    /// concurrency limit. Call it once the handler has finished (returned, thrown, or given up after
    /// its token fired), whatever ended the call; calling it again, or for a stream that already
    /// released (its trailers or CANCEL were written), does nothing. The client releases by itself.
    /// </summary>
    public void ReleaseSlot()
    {
        if (Interlocked.Exchange(ref _holdsSlot, 0) == 1)
        {
            _connection.ReleaseSlot();
        }
    }

    /// <summary>The stream closed: its slot goes back unless the server's call still runs and releases it itself.</summary>
    private void ReleaseSlotOnClose(bool byPeer)
    {
        if (_isClient || !byPeer || !_connection.AcceptorReleasesSlots)
        {
            ReleaseSlot();
        }
    }

    /// <summary>The connection ended under the stream: fails it without touching read-loop state.</summary>
    internal void OnConnectionClosed(Status status)
    {
        if (!TryClose())
        {
            return;
        }

        MarkReset(status);
        ReleaseSlot();
        Observer?.OnReset(status);
    }

    /// <summary>
    /// Writer, under the write lock: the call start cannot go out, so the peer never hears of the
    /// stream. It ends here with <paramref name="status"/> (its reader too); the exception is for the writer.
    /// </summary>
    internal StreamResetException FailUnstarted(Status status)
    {
        if (TryClose())
        {
            MarkReset(status);
            ReleaseSlot();
        }

        return new StreamResetException(status);
    }

    /// <summary>
    /// Closes the stream once (any thread); what it holds of the connection window goes back at
    /// once, since nobody may read it or the peer is done sending (see CallStream.Credit.cs).
    /// </summary>
    private bool TryClose()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return false;
        }

        lock (SyncRoot)
        {
            FreeAllHeldLocked();
        }

        FlushFreedBytes();
        return true;
    }

    /// <summary>Settles everything but the assembly, which belongs to the read loop.</summary>
    private void MarkReset(Status status)
    {
        _resetStatus = status;
        _remoteEnded = true;
        FailWindow(status);
        SettleHeaders(null, status);
        CompleteQueue();
        DiscardQueued();
    }

    /// <summary>The call ended before headers came: empty ones if the server ended it, its status otherwise.</summary>
    private void SettleHeaders(Metadata? empty, Status? failure)
    {
        TaskCompletionSource<Metadata>? waiting;
        lock (SyncRoot)
        {
            if (!_isClient || _receivedHeaders is not null)
            {
                return;
            }

            // A failure needs no field of its own: MarkReset has set _resetStatus already.
            _receivedHeaders = empty;
            waiting = _responseHeaders;
        }

        if (waiting is null)
        {
            return;
        }

        if (empty is not null)
        {
            waiting.TrySetResult(empty);
        }
        else if (waiting.TrySetException(new RpcException(failure!.Value)))
        {
            // Nobody has to ask for headers: observe the failure so it is not reported as unobserved.
            _ = waiting.Task.Exception;
        }
    }
}

using System.Runtime.CompilerServices;
using System.Buffers;
using System.IO.Pipelines;
using Grpc.Core;

namespace Rpc.Transports.Protocol;

/// <summary>
/// One call on a <see cref="MultiplexedConnection"/>: the queue of messages received, the send
/// window, and the call's end (trailers or a reset). The connection's read loop feeds it; the call
/// object on the client or server side reads and writes through it.
/// </summary>
internal sealed partial class CallStream : MessageQueue
{
    internal const string ReceiveTooLarge = "Received message exceeds the maximum configured message size.";

    private readonly MultiplexedConnection _connection;
    private readonly bool _isClient;
    private TaskCompletionSource<Metadata>? _responseHeaders;
    private Metadata? _receivedHeaders;
    // One lock (SyncRoot) for the stream's queue, window and credit: they are touched briefly and
    // rarely at once. It is the stream object itself (a monitor), so a call allocates no lock objects.

    // Assembly of a message that spans frames; touched only by the read loop.
    private byte[]? _assembly;
    private int _assembled;

    // Receive credit (see docs/protocol.md, "Flow control"); under SyncRoot.
    private int _heldCredit;
    private int _creditToSend;
    private int _completeMessagesQueued;

    private int _closed;
    private volatile bool _remoteEnded;
    private Status? _resetStatus;
    private TrailersPayload? _trailers;

    public CallStream(MultiplexedConnection connection, uint id, bool isClient)
    {
        _connection = connection;
        Id = id;
        _windowAvailable = connection.PeerSettings.InitialWindowSize;
        _isClient = isClient;
    }

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
                    _responseHeaders = new TaskCompletionSource<Metadata>(TaskCreationOptions.RunContinuationsAsynchronously);
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
    public Status? ResetStatus => Volatile.Read(ref _closed) == 1 ? _resetStatus : null;

    public bool IsClosed => Volatile.Read(ref _closed) == 1;

    // ---- receiving (read loop) ----

    // A stream this side has closed (reset, or its trailers sent) drops what the peer sent before
    // it learned of that: those frames crossed on the wire and are no protocol error.

    internal void OnResponseHeaders(Metadata headers)
    {
        if (IsClosed)
        {
            return;
        }

        TaskCompletionSource<Metadata>? waiting;
        lock (SyncRoot)
        {
            if (!_isClient || _receivedHeaders is not null)
            {
                throw new ProtocolException($"Stream {Id} received a second HEADERS frame.");
            }

            _receivedHeaders = headers;
            waiting = _responseHeaders;
        }

        waiting?.TrySetResult(headers);
    }

    internal async ValueTask OnMessageFragmentAsync(ReadOnlySequence<byte> payload, byte flags)
    {
        if (IsClosed)
        {
            return;
        }

        if (_remoteEnded)
        {
            throw new ProtocolException($"Stream {Id} received a MESSAGE after its sender ended it.");
        }

        var length = (int)payload.Length;
        if ((long)_assembled + length > _connection.MaxReceiveMessageSize)
        {
            ReturnAssembly();
            await ResetAsync(new Status(StatusCode.ResourceExhausted, ReceiveTooLarge), notifyObserver: true).ConfigureAwait(false);
            return;
        }

        var endOfMessage = (flags & FrameFlags.EndMessage) != 0;
        if (endOfMessage && _assembly is null)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
            payload.CopyTo(buffer);
            Enqueue(new IncomingMessage(buffer, length), length);
        }
        else
        {
            AppendToAssembly(payload, length);
            if (endOfMessage)
            {
                var message = new IncomingMessage(_assembly!, _assembled);
                _assembly = null;
                _assembled = 0;
                Enqueue(message, length);
            }
            else
            {
                await GrantCreditAsync(OnPartialReceived(length)).ConfigureAwait(false);
            }
        }

        if ((flags & FrameFlags.EndStream) != 0)
        {
            OnRemoteEnd();
        }
    }

    internal void OnHalfClose()
    {
        if (IsClosed)
        {
            return;
        }

        if (_remoteEnded)
        {
            throw new ProtocolException($"Stream {Id} was half-closed twice.");
        }

        OnRemoteEnd();
    }

    internal void OnTrailers(TrailersPayload trailers)
    {
        if (!TryClose())
        {
            return;
        }

        _trailers = trailers;
        _remoteEnded = true;
        ReturnAssembly();
        FailWindow(trailers.Status);
        SettleHeaders(Metadata.Empty, null);
        CompleteQueue();
    }

    /// <summary>The peer cancelled the stream or the connection died.</summary>
    internal void OnRemoteReset(Status status)
    {
        if (!TryClose())
        {
            return;
        }

        MarkReset(status);
        Observer?.OnReset(status);
    }

    internal bool OnWindowUpdate(int increment) => AddToWindow(increment);

    // ---- reading (call object) ----

    /// <summary>
    /// The next message, or <see langword="null"/> once the peer has sent its last one.
    /// Throws <see cref="StreamResetException"/> when the stream was torn down.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<IncomingMessage?> ReadMessageAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (ResetStatus is { } reset)
            {
                throw new StreamResetException(reset);
            }

            if (TryDequeue(out var message, out var credit))
            {
                await GrantCreditAsync(credit).ConfigureAwait(false);
                return message;
            }

            if (!await WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (ResetStatus is { } resetAtEnd)
                {
                    throw new StreamResetException(resetAtEnd);
                }

                return null;
            }
        }
    }

    // ---- sending (call object) ----

    /// <summary>
    /// Writes <paramref name="frames"/>. A message that fits one frame and the window goes out with
    /// its neighbours in one write; a larger one is cut into frames as window arrives.
    /// </summary>
    public async ValueTask SendAsync(OutgoingFrames frames, CancellationToken cancellationToken = default)
    {
        ThrowIfReset();
        var messageLength = frames.Message.Length;
        var whole = !frames.HasMessage
            || messageLength == 0
            || (messageLength <= _connection.PeerSettings.MaxFrameSize && TryTakeWindow(messageLength));
        try
        {
            if (whole)
            {
                await _connection.WriteAsync((this, frames), static (writer, state) => state.Item1.WriteAll(writer, state.frames)).ConfigureAwait(false);
            }
            else
            {
                await SendInFragmentsAsync(frames, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (IOException ex)
        {
            throw new StreamResetException(new Status(StatusCode.Unavailable, $"The connection failed: {ex.Message}", ex));
        }

        if (frames.TrailersStatus is not null && TryClose())
        {
            _connection.RemoveStream(this);
            CompleteQueue();
        }
    }

    /// <summary>Tears the stream down from this side and tells the peer with CANCEL.</summary>
    public async ValueTask ResetAsync(Status status, bool notifyObserver = false)
    {
        if (!TryClose())
        {
            return;
        }

        MarkReset(status);
        _connection.RemoveStream(this);
        if (notifyObserver)
        {
            Observer?.OnReset(status);
        }

        if (Id != 0)
        {
            await _connection.TrySendCancelAsync(Id, status).ConfigureAwait(false);
        }
    }

    private void WriteAll(PipeWriter writer, OutgoingFrames frames)
    {
        WritePrefix(writer, ref frames);
        if (frames.HasMessage)
        {
            var flags = FrameFlags.EndMessage;
            if (frames.EndStream)
            {
                flags |= FrameFlags.EndStream;
                frames.EndStream = false;
            }

            FrameWriter.WriteMessage(writer, Id, frames.Message.Span, flags);
        }

        WriteSuffix(writer, frames);
    }

    private async ValueTask SendInFragmentsAsync(OutgoingFrames frames, CancellationToken cancellationToken)
    {
        if (frames.Method is not null || frames.SendHeaders)
        {
            await _connection.WriteAsync((this, frames), static (writer, state) =>
            {
                var prefix = state.frames;
                state.Item1.WritePrefix(writer, ref prefix);
            }).ConfigureAwait(false);
        }

        var remaining = frames.Message;
        var maxFrame = _connection.PeerSettings.MaxFrameSize;
        while (!remaining.IsEmpty)
        {
            var granted = await TakeWindowAsync(Math.Min(remaining.Length, maxFrame), cancellationToken).ConfigureAwait(false);
            var fragment = remaining[..granted];
            remaining = remaining[granted..];
            var flags = FrameFlags.None;
            if (remaining.IsEmpty)
            {
                flags = FrameFlags.EndMessage;
                if (frames.EndStream)
                {
                    flags |= FrameFlags.EndStream;
                }
            }

            await _connection.WriteAsync((this, fragment, flags), static (writer, state) =>
                FrameWriter.WriteMessage(writer, state.Item1.Id, state.fragment.Span, state.flags)).ConfigureAwait(false);
        }

        if (frames.TrailersStatus is not null)
        {
            await _connection.WriteAsync((this, frames), static (writer, state) =>
            {
                var suffix = state.frames;
                suffix.EndStream = false;
                state.Item1.WriteSuffix(writer, suffix);
            }).ConfigureAwait(false);
        }
    }

    private void WritePrefix(PipeWriter writer, ref OutgoingFrames frames)
    {
        ThrowIfReset();
        if (frames.Method is not null)
        {
            _connection.AssignStreamId(this);
            FrameWriter.WriteCallStart(writer, Id, frames.Method, frames.TimeoutMicroseconds, frames.Headers);
        }
        else if (frames.SendHeaders)
        {
            FrameWriter.WriteResponseHeaders(writer, Id, frames.Headers);
        }
    }

    private void WriteSuffix(PipeWriter writer, OutgoingFrames frames)
    {
        if (frames.EndStream)
        {
            FrameWriter.WriteHalfClose(writer, Id);
        }

        if (frames.TrailersStatus is { } status)
        {
            FrameWriter.WriteTrailers(writer, Id, status, frames.Trailers);
        }
    }

    private void ThrowIfReset()
    {
        if (ResetStatus is { } reset)
        {
            throw new StreamResetException(reset);
        }

        if (Trailers is { } trailers)
        {
            throw new StreamResetException(trailers.Status);
        }
    }

    // ---- internals ----

    private bool TryClose() => Interlocked.Exchange(ref _closed, 1) == 0;

    private void MarkReset(Status status)
    {
        _resetStatus = status;
        _remoteEnded = true;
        ReturnAssembly();
        FailWindow(status);
        SettleHeaders(null, status);
        CompleteQueue();
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

    private void OnRemoteEnd()
    {
        _remoteEnded = true;
        CompleteQueue();
    }

    private void Enqueue(IncomingMessage message, int lastFragmentLength) => TryEnqueue(message, lastFragmentLength);

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

    private void AppendToAssembly(ReadOnlySequence<byte> payload, int length)
    {
        var needed = _assembled + length;
        if (_assembly is null || _assembly.Length < needed)
        {
            // Only messages longer than a frame get here, and their length is not known up front:
            // starting big saves copying what was assembled into ever larger arrays (a 1 MiB
            // message in 256 KiB frames is copied once, not twice).
            var grown = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Min(_connection.MaxReceiveMessageSize, needed * 8)));
            if (_assembly is not null)
            {
                _assembly.AsSpan(0, _assembled).CopyTo(grown);
                ArrayPool<byte>.Shared.Return(_assembly);
            }

            _assembly = grown;
        }

        payload.CopyTo(_assembly.AsSpan(_assembled));
        _assembled = needed;
    }

    private void ReturnAssembly()
    {
        if (_assembly is { } assembly)
        {
            _assembly = null;
            _assembled = 0;
            ArrayPool<byte>.Shared.Return(assembly);
        }
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

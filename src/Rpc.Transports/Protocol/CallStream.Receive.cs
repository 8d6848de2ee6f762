using System.Buffers;
using Grpc.Core;

namespace Rpc.Transports.Protocol;

// Owned by the connection's read loop: every method here runs on it and nowhere else. The assembly
// of a message that spans frames is the read loop's alone: a reset on another thread (deadline
// timer, token callback, shutdown) only closes the stream and asks the read loop to sweep, and the
// read loop frees the assembly the next time it touches the stream, at its next sweep, or when the
// connection ends (see AssemblySweeper).
internal sealed partial class CallStream
{
    private byte[]? _assembly;
    private int _assembled;

    /// <summary>Read loop: whether a message is half assembled (the sweeper keeps such streams).</summary>
    internal bool IsAssembling => _assembly is not null;

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

    internal ValueTask OnMessageFragmentAsync(ReadOnlySequence<byte> payload, byte flags)
    {
        // A whole message in one frame on an open stream, the common case, costs no state machine.
        var length = (int)payload.Length;
        if ((flags & (FrameFlags.EndMessage | FrameFlags.EndStream)) != FrameFlags.EndMessage || _assembly is not null || _remoteEnded || IsClosed
            || length > _connection.MaxReceiveMessageSize)
        {
            return OnMessageFragmentSlowAsync(payload, flags);
        }

        SpendReceiveWindow(length);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        payload.CopyTo(buffer);
        Enqueue(new IncomingMessage(buffer, length, (flags & FrameFlags.Compressed) != 0), length);
        return ValueTask.CompletedTask;
    }

    private async ValueTask OnMessageFragmentSlowAsync(ReadOnlySequence<byte> payload, byte flags)
    {
        // A reset on another thread sets _remoteEnded after closing, so closed is checked after
        // it: a stream reset under the read loop is a dropped frame, not the peer's fault.
        if (_remoteEnded && !IsClosed)
        {
            throw new ProtocolException($"Stream {Id} received a MESSAGE after its sender ended it.");
        }

        var length = (int)payload.Length;
        if (IsClosed)
        {
            ReleaseAssembly();
            _connection.FreeConnectionWindow(length);
            return;
        }

        SpendReceiveWindow(length);
        if ((long)_assembled + length > _connection.MaxReceiveMessageSize)
        {
            ReleaseAssembly();
            _connection.FreeConnectionWindow(length);
            _connection.LogLimitHit($"A message on stream {Id} exceeds MaxReceiveMessageSize ({_connection.MaxReceiveMessageSize} bytes); the call fails with ResourceExhausted.");
            await ResetAsync(new Status(StatusCode.ResourceExhausted, ReceiveTooLarge), notifyObserver: true).ConfigureAwait(false);
            return;
        }

        var endOfMessage = (flags & FrameFlags.EndMessage) != 0;
        var compressed = (flags & FrameFlags.Compressed) != 0;
        if (endOfMessage && _assembly is null)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
            payload.CopyTo(buffer);
            Enqueue(new IncomingMessage(buffer, length, compressed), length);
        }
        else
        {
            AppendToAssembly(payload, length);
            if (endOfMessage)
            {
                // The array passes to the queue and on to the reader, who returns it.
                var message = new IncomingMessage(_assembly!, _assembled, compressed);
                _assembly = null;
                _assembled = 0;
                _connection.Assemblies.Remove(this);
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

    /// <summary>
    /// Read loop: a whole message in a mapped region. Its reference frame took no flow-control
    /// window (the region budget bounds what the peer makes this side hold), so none is given back.
    /// </summary>
    internal async ValueTask OnMappedMessageAsync(Mapping.IncomingRegion region, int length, byte flags)
    {
        if (_remoteEnded && !IsClosed)
        {
            region.Release();
            throw new ProtocolException($"Stream {Id} received a MESSAGE_REF after its sender ended it.");
        }

        if (_assembly is not null && !IsClosed)
        {
            region.Release();
            throw new ProtocolException($"Stream {Id} received a MESSAGE_REF in the middle of a fragmented message.");
        }

        if (IsClosed)
        {
            ReleaseAssembly();
            region.Release();
            return;
        }

        if (length > _connection.MaxReceiveMessageSize)
        {
            region.Release();
            _connection.LogLimitHit($"A message on stream {Id} exceeds MaxReceiveMessageSize ({_connection.MaxReceiveMessageSize} bytes); the call fails with ResourceExhausted.");
            await ResetAsync(new Status(StatusCode.ResourceExhausted, ReceiveTooLarge), notifyObserver: true).ConfigureAwait(false);
            return;
        }

        Enqueue(new IncomingMessage(region, length, (flags & FrameFlags.Compressed) != 0), 0);
        if ((flags & FrameFlags.EndStream) != 0)
        {
            OnRemoteEnd();
        }
    }

    internal void OnHalfClose()
    {
        if (_remoteEnded && !IsClosed)
        {
            throw new ProtocolException($"Stream {Id} was half-closed twice.");
        }

        if (IsClosed)
        {
            ReleaseAssembly();
            return;
        }

        OnRemoteEnd();
    }

    internal void OnTrailers(TrailersPayload trailers)
    {
        ReleaseAssembly();
        if (!TryClose())
        {
            return;
        }

        _trailers = trailers;
        _remoteEnded = true;
        ReleaseSlot();
        FailWindow(trailers.Status);
        SettleHeaders(Metadata.Empty, null);
        CompleteQueue();
    }

    /// <summary>The peer cancelled the stream, or said in GOAWAY that it never saw it.</summary>
    internal void OnRemoteReset(Status status)
    {
        ReleaseAssembly();
        if (!TryClose())
        {
            return;
        }

        MarkReset(status);
        ReleaseSlotOnClose(byPeer: true);
        Observer?.OnReset(status);
    }

    internal bool OnWindowUpdate(int increment) => AddToWindow(increment);

    /// <summary>Read loop: frees a half-assembled message; the stream is closed or the connection ending.</summary>
    internal void ReleaseAssembly()
    {
        if (_assembly is { } assembly)
        {
            _assembly = null;
            _assembled = 0;
            _connection.Assemblies.Remove(this);
            _connection.AssemblyPool.Return(assembly);
        }
    }

    private void OnRemoteEnd()
    {
        _remoteEnded = true;
        CompleteQueue();
    }

    private void Enqueue(IncomingMessage message, int lastFragmentLength)
    {
        if (!TryEnqueue(message, lastFragmentLength))
        {
            // The stream closed under the read loop: nobody will read these bytes.
            _connection.FreeConnectionWindow(lastFragmentLength);
        }

        FlushFreedBytes();
    }

    private void AppendToAssembly(ReadOnlySequence<byte> payload, int length)
    {
        var needed = _assembled + length;
        if (_assembly is null || _assembly.Length < needed)
        {
            // Only messages longer than a frame get here, and their length is not known up front.
            // The array doubles from what has arrived, never more: a peer that sends one fragment
            // on each of many streams makes this side hold what it sent, not a multiple of it.
            var pool = _connection.AssemblyPool;
            var grown = pool.Rent(Math.Max(needed, (int)Math.Min(_connection.MaxReceiveMessageSize, 2L * needed)));
            if (_assembly is not null)
            {
                _assembly.AsSpan(0, _assembled).CopyTo(grown);
                pool.Return(_assembly);
            }
            else
            {
                _connection.Assemblies.Add(this);
            }

            _assembly = grown;
        }

        payload.CopyTo(_assembly.AsSpan(_assembled));
        _assembled = needed;
    }
}

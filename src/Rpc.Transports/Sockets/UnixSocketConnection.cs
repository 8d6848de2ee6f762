using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;
using Rpc.Transports.Internal;

namespace Rpc.Transports.Sockets;

/// <summary>
/// A Unix-socket connection that hands its peer descriptors in order with its bytes: a descriptor
/// to send is attached (<c>SCM_RIGHTS</c>) to the first byte of the next send the send loop makes,
/// and every read is a <c>recvmsg</c> with room for descriptors, which are queued before the bytes
/// they came with reach the protocol. A plain read would have the kernel close them.
/// </summary>
/// <remarks>
/// Threads: <see cref="SendDescriptor"/> runs on a writer (under the protocol's write lock) and only
/// queues; the send loop takes the queue. The receive loop (thread or asynchronous) fills the
/// received queue; the protocol's read loop takes from it. Both queues are guarded by one lock,
/// held only to move handles. Off Linux this is a plain socket connection that never maps.
/// </remarks>
internal sealed class UnixSocketConnection : SocketConnection, IDescriptorChannel
{
    /// <summary>Received descriptors the protocol has not taken; one more fails the connection.</summary>
    internal const int MaxUnclaimed = 32;

    /// <summary>
    /// Descriptors waiting for the send loop; beyond this a writer is refused. The protocol sends a
    /// region's descriptor once and reuses the region, so a handful is the norm.
    /// </summary>
    internal const int MaxQueuedToSend = 64;

    private readonly bool _passes = OperatingSystem.IsLinux();
    private readonly Lock _lock = new();
    private readonly Queue<SafeFileHandle> _toSend = new();
    private readonly Queue<SafeFileHandle> _received = new();
    private int _toSendCount;
    private bool _ended;

    /// <param name="socket">The connected Unix socket, now the connection's.</param>
    /// <param name="peer">The peer's description.</param>
    /// <param name="maxBufferSize">Bytes received ahead of the protocol before receiving pauses.</param>
    /// <param name="identity">The peer's credentials, when known.</param>
    /// <param name="mappedPayloadThreshold">The transport's <see cref="UnixSocketTransportOptions.MappedPayloadThreshold"/>.</param>
    /// <param name="spin">The transport's <see cref="UnixSocketTransportOptions.SpinDuration"/>.</param>
    public UnixSocketConnection(Socket socket, string peer, int maxBufferSize, PeerIdentity? identity, int mappedPayloadThreshold, TimeSpan spin)
        : base(socket, peer, maxBufferSize, identity, start: false, spin)
    {
        MappedPayloadThreshold = MappedPayloads.Effective(mappedPayloadThreshold);
        Start();
    }

    /// <inheritdoc/>
    public int MappedPayloadThreshold { get; }

    /// <inheritdoc/>
    public void SendDescriptor(SafeFileHandle descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        string? refusal = null;
        lock (_lock)
        {
            if (!_passes)
            {
                refusal = "This platform cannot pass descriptors over a Unix socket.";
            }
            else if (_ended)
            {
                refusal = "The connection has ended.";
            }
            else if (_toSend.Count >= MaxQueuedToSend)
            {
                refusal = $"More than {MaxQueuedToSend} descriptors wait to be sent.";
            }
            else
            {
                _toSend.Enqueue(descriptor);
                Volatile.Write(ref _toSendCount, _toSend.Count);
            }
        }

        if (refusal is not null)
        {
            descriptor.Dispose();
            throw new IOException(refusal);
        }
    }

    /// <inheritdoc/>
    public bool TryReceiveDescriptor([NotNullWhen(true)] out SafeFileHandle? descriptor)
    {
        lock (_lock)
        {
            return _received.TryDequeue(out descriptor);
        }
    }

    protected override int Receive(Span<byte> buffer)
    {
        if (!_passes)
        {
            return base.Receive(buffer);
        }

        while (true)
        {
            WaitReadable();
            // Readable, so this returns bytes or the end of the stream; -1 only on a spurious wake-up.
            var received = ReceiveWithDescriptors(buffer);
            if (received >= 0)
            {
                return received;
            }
        }
    }

    protected override ValueTask<int> ReceiveAsync(Memory<byte> buffer)
    {
        if (!_passes)
        {
            return base.ReceiveAsync(buffer);
        }

        var received = ReceiveWithDescriptors(buffer.Span);
        return received >= 0 ? ValueTask.FromResult(received) : WaitThenReceiveAsync(buffer);
    }

    protected override ValueTask SendAsync(ReadOnlyMemory<byte> buffer) =>
        Volatile.Read(ref _toSendCount) == 0 || buffer.IsEmpty ? base.SendAsync(buffer) : SendWithDescriptorsAsync(buffer);

    protected override ValueTask DisposeMediumAsync()
    {
        // Both loops have ended: what is queued will never be sent or taken.
        lock (_lock)
        {
            _ended = true;
            while (_toSend.TryDequeue(out var unsent))
            {
                unsent.Dispose();
            }

            while (_received.TryDequeue(out var untaken))
            {
                untaken.Dispose();
            }

            _toSendCount = 0;
        }

        return base.DisposeMediumAsync();
    }

    private async ValueTask<int> WaitThenReceiveAsync(Memory<byte> buffer)
    {
        while (true)
        {
            // A zero-byte receive waits for readability and consumes nothing, so the bytes and the
            // descriptors with them are still there for recvmsg.
            await Socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).ConfigureAwait(false);
            var received = ReceiveWithDescriptors(buffer.Span);
            if (received >= 0)
            {
                return received;
            }
        }
    }

    /// <summary>recvmsg without waiting; the descriptors that came are queued before the bytes are returned.</summary>
    private int ReceiveWithDescriptors(Span<byte> buffer)
    {
        Span<int> passed = stackalloc int[DescriptorPassing.MaxPerMessage];
        var received = DescriptorPassing.Receive(Socket.SafeHandle, buffer, passed, out var count);
        if (count > 0)
        {
            Queue(passed[..count]);
        }

        return received;
    }

    private void Queue(ReadOnlySpan<int> passed)
    {
        // Owned from here, so that whatever happens next closes them.
        var handles = new SafeFileHandle[passed.Length];
        for (var i = 0; i < passed.Length; i++)
        {
            handles[i] = new SafeFileHandle(passed[i], ownsHandle: true);
        }

        string? failure = null;
        lock (_lock)
        {
            if (_ended)
            {
                failure = "The connection has ended.";
            }
            else if (_received.Count + handles.Length > MaxUnclaimed)
            {
                failure = $"The peer passed more than {MaxUnclaimed} descriptors that nobody took.";
            }
            else
            {
                foreach (var handle in handles)
                {
                    _received.Enqueue(handle);
                }

                return;
            }
        }

        foreach (var handle in handles)
        {
            handle.Dispose();
        }

        // Thrown from the receive loop, this fails the connection, and only it.
        throw new IOException(failure);
    }

    private async ValueTask SendWithDescriptorsAsync(ReadOnlyMemory<byte> buffer)
    {
        // Each byte carries up to a message's worth, so every queued descriptor rides on a byte at or
        // before the reference frame that names it (queued before that frame was written).
        while (!buffer.IsEmpty && TakeToSend() is { } batch)
        {
            try
            {
                // Full only when the peer has fallen behind; closing the connection shuts the socket
                // down, which ends the wait and fails the next try.
                while (!TrySendAttached(buffer[..1], batch))
                {
                    await WaitWritableAsync().ConfigureAwait(false);
                }
            }
            finally
            {
                foreach (var handle in batch)
                {
                    handle.Dispose();
                }
            }

            buffer = buffer[1..];
        }

        if (!buffer.IsEmpty)
        {
            await base.SendAsync(buffer).ConfigureAwait(false);
        }
    }

    private SafeFileHandle[]? TakeToSend()
    {
        lock (_lock)
        {
            if (_toSend.Count == 0)
            {
                return null;
            }

            var batch = new SafeFileHandle[Math.Min(_toSend.Count, DescriptorPassing.MaxPerMessage)];
            for (var i = 0; i < batch.Length; i++)
            {
                batch[i] = _toSend.Dequeue();
            }

            Volatile.Write(ref _toSendCount, _toSend.Count);
            return batch;
        }
    }

    /// <summary>Sends one byte with <paramref name="batch"/> attached; false when the socket's buffer is full.</summary>
    private bool TrySendAttached(ReadOnlyMemory<byte> oneByte, SafeFileHandle[] batch)
    {
        Span<int> descriptors = stackalloc int[batch.Length];
        var added = new bool[batch.Length];
        try
        {
            for (var i = 0; i < batch.Length; i++)
            {
                // The reference keeps each descriptor open until the kernel has taken its own.
                batch[i].DangerousAddRef(ref added[i]);
                descriptors[i] = (int)batch[i].DangerousGetHandle();
            }

            return DescriptorPassing.Send(Socket.SafeHandle, oneByte.Span, descriptors) >= 0;
        }
        finally
        {
            for (var i = 0; i < batch.Length; i++)
            {
                if (added[i])
                {
                    batch[i].DangerousRelease();
                }
            }
        }
    }
}

using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;
using Rpc.Transports.Internal;
using Rpc.Transports.Sockets;

namespace Rpc.Transports.SharedMemory;

/// <summary>
/// A connection over two shared rings. Received bytes are copied from the ring straight into the
/// input pipe by a thread of the connection's own, which may sleep on the futex (it is counted
/// against <see cref="ReceiveThreads"/>: whoever creates a connection reserves it first). The send
/// loop copies into the other ring; when that is full it awaits <see cref="SpaceWaiter"/>, so no
/// thread-pool thread ever sleeps on a futex, even when the peer is stopped. After the handshake the
/// control socket carries only the descriptors of mapped payload regions, one byte each
/// (<see cref="IDescriptorChannel"/>); its hang-up is how each side learns the other is gone.
/// </summary>
/// <remarks>
/// Threads: the receive thread owns reading <c>_incoming</c>; the send loop owns writing
/// <c>_outgoing</c> and the waiter's requests; writers (under the protocol's write lock) send
/// descriptors on the control socket and the protocol's read loop receives them; the watcher thread
/// only waits for the control socket's hang-up and never reads it, so it cannot swallow a
/// descriptor; any thread may abort (which only sets flags and wakes futexes).
/// </remarks>
internal sealed class SharedMemoryConnection : TransportConnection, IDescriptorChannel
{
    /// <summary>Descriptors the peer may have queued on the control socket beyond the one taken before the connection fails.</summary>
    internal const int MaxUnclaimed = 32;

    // What a descriptor's byte says; anything else on the control socket is a broken peer.
    private const byte DescriptorByte = (byte)'D';

    private readonly Socket _control;
    private readonly SharedSegment _segment;
    private readonly SharedRing _incoming;
    private readonly SharedRing _outgoing;
    private readonly SpaceWaiter _spaceWaiter;
    private readonly Task _watcher;
    // Null when the ring is copied out instead (too small to read in place).
    private RingReader? _reader;

    /// <param name="control">The control socket, now the connection's.</param>
    /// <param name="segment">The mapped segment, now the connection's.</param>
    /// <param name="isServer">Which rings are whose.</param>
    /// <param name="spin">How long to spin before sleeping.</param>
    /// <param name="peer">The peer's description.</param>
    /// <param name="peerIdentity">The peer's credentials.</param>
    /// <param name="mappedPayloadThreshold">The transport's <see cref="SharedMemoryTransportOptions.MappedPayloadThreshold"/>.</param>
    /// <remarks>The caller has reserved a receive thread (<see cref="ReceiveThreads.TryReserve"/>); the connection releases it.</remarks>
    public SharedMemoryConnection(Socket control, SharedSegment segment, bool isServer, TimeSpan spin, string peer, PeerIdentity peerIdentity, int mappedPayloadThreshold)
        : base(peer, maxReceiveBuffer: 1024 * 1024)
    {
        PeerIdentity = peerIdentity;
        MappedPayloadThreshold = MappedPayloads.Effective(mappedPayloadThreshold);
        _control = control;
        _segment = segment;
        _incoming = segment.GetRing(isServer ? 0 : 1, spin);
        _outgoing = segment.GetRing(isServer ? 1 : 0, spin);
        _spaceWaiter = new SpaceWaiter(_outgoing, peer);
        _watcher = StartWatcher();
        Start();
    }

    /// <inheritdoc/>
    public int MappedPayloadThreshold { get; }

    /// <summary>The control socket; for tests that play a broken peer.</summary>
    internal Socket Control => _control;

    /// <summary>The ring this side sends on; for tests.</summary>
    internal SharedRing Outgoing => _outgoing;

    /// <inheritdoc/>
    public void SendDescriptor(SafeFileHandle descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        using (descriptor)
        {
            var added = false;
            try
            {
                descriptor.DangerousAddRef(ref added);
                // The kernel queues it on the peer's socket now, before the reference frame that
                // names it can be written to the ring: the peer always finds it there first.
                if (DescriptorPassing.Send(_control.SafeHandle, [DescriptorByte], [(int)descriptor.DangerousGetHandle()]) < 0)
                {
                    throw new IOException("The peer has not taken the descriptors already sent on the control socket.");
                }
            }
            catch (ObjectDisposedException ex)
            {
                throw new IOException("The connection has ended.", ex);
            }
            finally
            {
                if (added)
                {
                    descriptor.DangerousRelease();
                }
            }
        }
    }

    /// <inheritdoc/>
    public bool TryReceiveDescriptor([NotNullWhen(true)] out SafeFileHandle? descriptor)
    {
        descriptor = null;
        Span<byte> data = stackalloc byte[1];
        Span<int> passed = stackalloc int[1];
        int received;
        int count;
        try
        {
            received = DescriptorPassing.Receive(_control.SafeHandle, data, passed, out count);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            throw Fail($"Receiving a descriptor on the control socket failed: {ex.Message}", ex);
        }

        if (count == 1)
        {
            descriptor = new SafeFileHandle(passed[0], ownsHandle: true);
        }

        if (received <= 0)
        {
            // Nothing yet, or the peer is gone (the watcher sees that and ends the connection).
            // A descriptor never comes without its byte; were it to, it is closed, not leaked.
            descriptor?.Dispose();
            descriptor = null;
            return false;
        }

        if (descriptor is null || data[0] != DescriptorByte)
        {
            descriptor?.Dispose();
            throw Fail("The peer sent bytes on the control socket that carry no descriptor.");
        }

        // Each queued byte is a descriptor nobody took: a peer that piles them up is broken or hostile.
        if (QueuedOnControl() > MaxUnclaimed)
        {
            descriptor.Dispose();
            throw Fail($"The peer passed more than {MaxUnclaimed} descriptors that nobody took.");
        }

        return true;
    }

    protected override ReceiveMode Receiving => ReceiveMode.Thread;

    protected override bool CoalescesSends => false;

    // A pass of the send loop per message was a third of a streaming handler's time; see SendScheduler.
    protected override int SendBatchWithinItem => Math.Min(16 * 1024, _outgoing.Capacity / 4);

    // In place whenever the ring holds a whole frame of the largest size; a smaller ring is copied out.
    protected override InPlaceInput? CreateInPlaceInput() => _reader = RingReader.Fits(_incoming.Capacity) ? new RingReader(_incoming) : null;

    protected override int Receive(Span<byte> buffer) => _incoming.Read(buffer);

    protected override ValueTask SendAsync(ReadOnlyMemory<byte> buffer)
    {
        var written = _outgoing.TryWrite(buffer.Span);
        return written == buffer.Length ? ValueTask.CompletedTask : SendRestAsync(buffer[written..]);
    }

    protected override void ShutdownSend() => _outgoing.CloseProducer();

    protected override void CloseMedium()
    {
        _incoming.Abort();
        _outgoing.Abort();
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
        ReceiveThreads.Release();
        // The rings were aborted, which wakes a sleeping waiter at once. Should it somehow still be
        // there, the mapping is left to the process's end rather than pulled from under a thread.
        if (await _spaceWaiter.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false) && await ReaderRetiredAsync().ConfigureAwait(false))
        {
            _segment.Dispose();
        }
    }

    /// <summary>
    /// Whether the protocol's reader let go of the ring for good. A read loop that outlived the
    /// dispose (the protocol waits for it only so long) may still hold a buffer in the ring; it
    /// lets go at its next AdvanceTo, and is given 10 s.
    /// </summary>
    private async ValueTask<bool> ReaderRetiredAsync()
    {
        if (_reader is null)
        {
            return true;
        }

        for (var waited = 0; waited < 1000; waited++)
        {
            if (_reader.TryRetire())
            {
                return true;
            }

            await Task.Delay(10).ConfigureAwait(false);
        }

        return false;
    }

    private async ValueTask SendRestAsync(ReadOnlyMemory<byte> rest)
    {
        while (!rest.IsEmpty)
        {
            // A quick consumer frees space within the spin; only a slow one costs the hand-off.
            if (!_outgoing.SpinForSpace())
            {
                await _spaceWaiter.WaitAsync().ConfigureAwait(false);
            }

            rest = rest[_outgoing.TryWrite(rest.Span)..];
        }
    }

    private int QueuedOnControl()
    {
        try
        {
            return DescriptorPassing.QueuedBytes(_control.SafeHandle);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            throw Fail($"The control socket failed: {ex.Message}", ex);
        }
    }

    /// <summary>Ends this connection, and only it, for a peer that broke the control socket's rules.</summary>
    private IOException Fail(string reason, Exception? inner = null)
    {
        var error = new IOException(reason, inner);
        Abort(error);
        return error;
    }

    private Task StartWatcher()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // It only sleeps in poll(2): a small stack is plenty.
        var thread = new Thread(() => WatchControl(done), maxStackSize: 256 * 1024) { IsBackground = true, Name = "Rpc shm watch " + Peer };
        thread.Start();
        return done.Task;
    }

    private void WatchControl(TaskCompletionSource done)
    {
        try
        {
            // Never a read: descriptors queued there belong to the protocol's read loop. The peer's
            // end (or death) and this side's shutdown in CloseMedium both end the wait.
            DescriptorPassing.WaitHangUp(_control.SafeHandle);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // Closed already, or poll failed: either way the connection is over.
        }
        finally
        {
            // Wake and fail this side's waits; what the peer wrote before it went is still read.
            _incoming.Abort();
            _outgoing.Abort();
            done.SetResult();
        }
    }
}

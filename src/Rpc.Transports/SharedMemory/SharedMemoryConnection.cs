using System.Net.Sockets;
using Rpc.Transports.Internal;

namespace Rpc.Transports.SharedMemory;

/// <summary>
/// A connection over two shared rings. Received bytes are copied from the ring straight into the
/// input pipe by a thread of the connection's own, which may sleep on the futex (it is counted
/// against <see cref="ReceiveThreads"/>: whoever creates a connection reserves it first). The send
/// loop copies into the other ring; when that is full it awaits <see cref="SpaceWaiter"/>, so no
/// thread-pool thread ever sleeps on a futex, even when the peer is stopped. The control socket
/// carries nothing after the handshake: its end-of-stream is how each side learns the other is gone.
/// </summary>
/// <remarks>
/// Threads: the receive thread owns reading <c>_incoming</c>; the send loop owns writing
/// <c>_outgoing</c> and the waiter's requests; the watcher task owns the control socket's reads;
/// any thread may abort (which only sets flags and wakes futexes).
/// </remarks>
internal sealed class SharedMemoryConnection : TransportConnection
{
    private readonly Socket _control;
    private readonly SharedSegment _segment;
    private readonly SharedRing _incoming;
    private readonly SharedRing _outgoing;
    private readonly SpaceWaiter _spaceWaiter;
    private readonly Task _watcher;

    /// <param name="control">The control socket, now the connection's.</param>
    /// <param name="segment">The mapped segment, now the connection's.</param>
    /// <param name="isServer">Which rings are whose.</param>
    /// <param name="spin">How long to spin before sleeping.</param>
    /// <param name="peer">The peer's description.</param>
    /// <param name="peerIdentity">The peer's credentials.</param>
    /// <remarks>The caller has reserved a receive thread (<see cref="ReceiveThreads.TryReserve"/>); the connection releases it.</remarks>
    public SharedMemoryConnection(Socket control, SharedSegment segment, bool isServer, TimeSpan spin, string peer, PeerIdentity peerIdentity)
        : base(peer, maxReceiveBuffer: 1024 * 1024)
    {
        PeerIdentity = peerIdentity;
        _control = control;
        _segment = segment;
        _incoming = segment.GetRing(isServer ? 0 : 1, spin);
        _outgoing = segment.GetRing(isServer ? 1 : 0, spin);
        _spaceWaiter = new SpaceWaiter(_outgoing, peer);
        _watcher = WatchControlAsync();
        Start();
    }

    /// <summary>The ring this side sends on; for tests.</summary>
    internal SharedRing Outgoing => _outgoing;

    protected override ReceiveMode Receiving => ReceiveMode.Thread;

    protected override bool CoalescesSends => false;

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
        if (await _spaceWaiter.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false))
        {
            _segment.Dispose();
        }
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
            // Wake and fail this side's waits; what the peer wrote before it went is still read.
            _incoming.Abort();
            _outgoing.Abort();
        }
    }
}

using System.Net.Sockets;
using Rpc.Transports.Internal;

namespace Rpc.Transports.SharedMemory;

/// <summary>
/// A connection over two shared rings. Received bytes are copied from the ring straight into the
/// input pipe by a thread of the connection's own, which may sleep on the futex; the send loop
/// copies into the other ring, waiting on its futex while the ring is full. The control socket carries nothing after the handshake:
/// its end-of-stream is how each side learns the other is gone.
/// </summary>
internal sealed class SharedMemoryConnection : TransportConnection
{
    private readonly Socket _control;
    private readonly SharedSegment _segment;
    private readonly SharedRing _incoming;
    private readonly SharedRing _outgoing;
    private readonly Task _watcher;

    public SharedMemoryConnection(Socket control, SharedSegment segment, bool isServer, TimeSpan spin, string peer, PeerIdentity peerIdentity)
        : base(peer, maxReceiveBuffer: 1024 * 1024)
    {
        PeerIdentity = peerIdentity;
        _control = control;
        _segment = segment;
        _incoming = segment.GetRing(isServer ? 0 : 1, spin);
        _outgoing = segment.GetRing(isServer ? 1 : 0, spin);
        _watcher = WatchControlAsync();
        Start();
    }

    protected override ReceiveMode Receiving => ReceiveMode.Thread;

    protected override bool CoalescesSends => false;

    protected override int Receive(Span<byte> buffer) => _incoming.Read(buffer);

    protected override ValueTask SendAsync(ReadOnlyMemory<byte> buffer)
    {
        _outgoing.Write(buffer.Span);
        return ValueTask.CompletedTask;
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
        _segment.Dispose();
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

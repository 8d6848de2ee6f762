using System.Net.Sockets;
using Rpc.Transports.Internal;

namespace Rpc.Transports.Sockets;

/// <summary>A listener over a listening socket; subclasses say how an accepted socket becomes a connection.</summary>
internal abstract class SocketListener : AcceptingListener<Socket>
{
    private readonly Socket _listening;

    protected SocketListener(Socket listening, TransportAddress address, ListenOptions options, TimeSpan handshakeTimeout)
        : base(address, options, handshakeTimeout)
    {
        _listening = listening;
    }

    protected override ValueTask<Socket> AcceptRawAsync(CancellationToken cancellationToken) => _listening.AcceptAsync(cancellationToken);

    protected override void Discard(Socket raw) => raw.Dispose();

    protected override void Unbind() => _listening.Dispose();

    protected override string Describe(Socket raw)
    {
        try
        {
            return raw.RemoteEndPoint?.ToString() is { Length: > 0 } endPoint ? endPoint : "a peer";
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return "a peer";
        }
    }
}

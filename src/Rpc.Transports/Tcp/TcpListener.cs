using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Rpc.Transports.Internal;
using Rpc.Transports.Sockets;

namespace Rpc.Transports.Tcp;

/// <summary>
/// Accepts TCP connections; for <c>tcps://</c> each runs its TLS handshake on its own task with
/// <see cref="TcpTransportOptions.TlsHandshakeTimeout"/>, so a silent client delays nobody else.
/// </summary>
internal sealed class TcpListener : SocketListener
{
    private readonly TcpTransportOptions? _tls;
    private readonly int _maxBufferSize;

    public TcpListener(Socket socket, TransportAddress address, ListenOptions options, TcpTransportOptions? tls, int maxBufferSize)
        : base(socket, address, options, tls?.TlsHandshakeTimeout ?? Timeout.InfiniteTimeSpan)
    {
        _tls = tls;
        _maxBufferSize = maxBufferSize;
        StartAccepting();
    }

    protected override async ValueTask<ITransportConnection> CompleteAsync(Socket raw, CancellationToken cancellationToken)
    {
        raw.NoDelay = true;
        var peer = TcpPeer.Describe(raw.RemoteEndPoint);
        if (_tls is null)
        {
            return new SocketConnection(raw, peer, _maxBufferSize);
        }

        var tls = new SslStream(new NetworkStream(raw, ownsSocket: true), leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = _tls.ServerCertificate,
                ClientCertificateRequired = _tls.ClientCertificateRequired,
                RemoteCertificateValidationCallback = _tls.RemoteCertificateValidation,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        var identity = tls.RemoteCertificate is X509Certificate2 certificate ? new PeerIdentity { Certificate = certificate } : null;
        return new StreamConnection(tls, tls, peer, _maxBufferSize, identity: identity);
    }
}

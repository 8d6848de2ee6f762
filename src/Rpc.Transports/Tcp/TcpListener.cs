using System.Net.Security;
using System.Net.Sockets;
using Rpc.Transports.Internal;
using Rpc.Transports.Sockets;

namespace Rpc.Transports.Tcp;

internal sealed class TcpListener : ITransportListener
{
    private readonly Socket _socket;
    private readonly TcpTransportOptions? _tls;
    private readonly int _maxBufferSize;
    private int _disposed;

    public TcpListener(Socket socket, TransportAddress address, TcpTransportOptions? tls, int maxBufferSize)
    {
        _socket = socket;
        _tls = tls;
        _maxBufferSize = maxBufferSize;
        Address = address;
    }

    public TransportAddress Address { get; }

    public async ValueTask<ITransportConnection?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var accepted = await SocketAcceptor.AcceptAsync(_socket, () => Volatile.Read(ref _disposed) == 1, cancellationToken).ConfigureAwait(false);
            if (accepted is null)
            {
                return null;
            }

            accepted.NoDelay = true;
            var peer = $"ipv4:{accepted.RemoteEndPoint}";
            if (_tls is null)
            {
                return new SocketConnection(accepted, peer, _maxBufferSize);
            }

            // The handshake runs in the accept loop with a timeout, so a client that never finishes
            // it delays the next accept by at most that long.
            var tls = new SslStream(new NetworkStream(accepted, ownsSocket: true), leaveInnerStreamOpen: false);
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(_tls.TlsHandshakeTimeout);
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = _tls.ServerCertificate,
                    ClientCertificateRequired = _tls.ClientCertificateRequired,
                    RemoteCertificateValidationCallback = _tls.RemoteCertificateValidation,
                }, timeout.Token).ConfigureAwait(false);
                return new StreamConnection(tls, tls, peer, _maxBufferSize);
            }
            catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
            {
                // A client that fails TLS is refused; the listener goes on.
                await tls.DisposeAsync().ConfigureAwait(false);
                if (cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _socket.Dispose();
        }

        return ValueTask.CompletedTask;
    }
}

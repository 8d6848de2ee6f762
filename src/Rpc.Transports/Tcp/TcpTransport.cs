using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Rpc.Transports.Internal;
using Rpc.Transports.Sockets;

namespace Rpc.Transports.Tcp;

/// <summary>
/// TCP with Nagle off: <c>tcp://host:port</c>, and TLS over it: <c>tcps://host:port</c>. Port 0
/// picks a free port; the listener's address reports the one bound.
/// </summary>
public sealed class TcpTransport : ITransport
{
    private readonly TcpTransportOptions _options;

    /// <summary>Creates the transport with <paramref name="options"/>.</summary>
    public TcpTransport(TcpTransportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    /// <inheritdoc/>
    public IReadOnlyCollection<string> Schemes { get; } = ["tcp", "tcps"];

    /// <inheritdoc/>
    public void Validate(TransportAddress address) => ParseHostPort(address);

    /// <inheritdoc/>
    public async ValueTask<ITransportListener> BindAsync(TransportAddress address, ListenOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var (host, port) = ParseHostPort(address);
        var tls = address.Scheme == "tcps";
        if (tls && _options.ServerCertificate is null)
        {
            throw new InvalidOperationException($"Listening on '{address}' needs TcpTransportOptions.ServerCertificate: register a TcpTransport configured with one.");
        }

        var ip = host is "*" or "0.0.0.0" ? IPAddress.Any
            : host is "[::]" ? IPAddress.IPv6Any
            : await ResolveAsync(host, cancellationToken).ConfigureAwait(false);
        var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(ip, port));
            socket.Listen(512);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw new AddressInUseException($"Address in use: '{address}'.", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var bound = (IPEndPoint)socket.LocalEndPoint!;
        var boundAddress = TransportAddress.Create(address.Scheme, $"{(host is "*" ? "0.0.0.0" : host)}:{bound.Port}");
        return new TcpListener(socket, boundAddress, options, tls ? _options : null, _options.MaxBufferSize);
    }

    /// <inheritdoc/>
    public async ValueTask<ITransportConnection> ConnectAsync(TransportAddress address, CancellationToken cancellationToken)
    {
        var (host, port) = ParseHostPort(address);
        var secure = address.Scheme == "tcps";
        Socket socket;
        IPEndPoint peer;
        try
        {
            // TLS reads through SslStream, which uses the runtime's engine anyway.
            (socket, peer) = await TcpConnect.ConnectAsync(host, port, viaRuntime: secure, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            throw new ConnectionFailedException($"Could not connect to '{address}': {ex.SocketErrorCode}.", ex);
        }

        if (!secure)
        {
            return new SocketConnection(socket, TcpPeer.Describe(peer), _options.MaxBufferSize);
        }

        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.TlsHandshakeTimeout);
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = host,
                ClientCertificates = _options.ClientCertificate is null ? null : [_options.ClientCertificate],
                RemoteCertificateValidationCallback = _options.RemoteCertificateValidation,
            }, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw new ConnectionFailedException($"TLS handshake with '{address}' failed: {ex.Message}", ex);
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        var identity = tls.RemoteCertificate is X509Certificate2 certificate ? new PeerIdentity { Certificate = certificate } : null;
        return new StreamConnection(tls, tls, TcpPeer.Describe(socket.RemoteEndPoint), _options.MaxBufferSize, identity: identity);
    }

    private static (string Host, int Port) ParseHostPort(TransportAddress address)
    {
        var target = address.Target;
        var colon = target.LastIndexOf(':');
        if (address.Scheme is not ("tcp" or "tcps") || colon <= 0 || !ushort.TryParse(target[(colon + 1)..], out var port))
        {
            throw new ArgumentException($"'{address}' is not a TCP address. {TransportRegistry.AcceptedForms}", nameof(address));
        }

        return (target[..colon], port);
    }

    private static async ValueTask<IPAddress> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        if (host == "localhost")
        {
            return IPAddress.Loopback;
        }

        if (IPAddress.TryParse(host.Trim('[', ']'), out var ip))
        {
            return ip;
        }

        var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        return addresses.Length > 0 ? addresses[0] : throw new ArgumentException($"'{host}' does not resolve to an address.", nameof(host));
    }
}

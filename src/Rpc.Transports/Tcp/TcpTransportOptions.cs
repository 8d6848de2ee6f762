using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Rpc.Transports.Tcp;

/// <summary>Settings of the TCP transport, plain (<c>tcp://</c>) and with TLS (<c>tcps://</c>).</summary>
public sealed class TcpTransportOptions
{
    private int _maxBufferSize = 1024 * 1024;

    /// <summary>Bytes a connection buffers on receive before the socket waits. Default: 1 MiB.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set below one maximum-size frame plus its header (262,154 bytes), which would stall a connection.</exception>
    public int MaxBufferSize
    {
        get => _maxBufferSize;
        set => _maxBufferSize = Internal.BufferLimits.CheckMaxBufferSize(value, "TcpTransportOptions.MaxBufferSize");
    }

    /// <summary>Server: the certificate a <c>tcps://</c> listener presents. Required to listen with TLS.</summary>
    public X509Certificate2? ServerCertificate { get; set; }

    /// <summary>Server: whether a <c>tcps://</c> client must present a certificate. Default: false.</summary>
    public bool ClientCertificateRequired { get; set; }

    /// <summary>Client: the certificate to present to a server that asks for one.</summary>
    public X509Certificate2? ClientCertificate { get; set; }

    /// <summary>
    /// Checks the peer's certificate, on either side. Default: the platform's chain and host-name
    /// checks, so an untrusted or mismatched certificate is refused.
    /// </summary>
    public RemoteCertificateValidationCallback? RemoteCertificateValidation { get; set; }

    /// <summary>How long the TLS handshake may take. Default: 10 s.</summary>
    public TimeSpan TlsHandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

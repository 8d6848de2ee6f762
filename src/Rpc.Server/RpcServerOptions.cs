using System.Security.Cryptography.X509Certificates;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;
using Rpc.Transports;

namespace Rpc.Server;

/// <summary>Settings of an <see cref="RpcServer"/>. Defaults match grpc-dotnet's where it has one, except where a member says otherwise and why.</summary>
public sealed partial class RpcServerOptions
{
    private int _maxConcurrentCallsPerConnection = 100;
    private X509Certificate2? _httpsCertificate;

    /// <summary>
    /// Largest message the server sends; larger fails the call with ResourceExhausted, naming the
    /// size and this limit. Default: 4 MiB, where grpc-dotnet sets no limit: a client's default
    /// receive limit is 4 MiB, so a larger response would fail there anyway, after crossing the
    /// wire; failing here says so sooner and more clearly.
    /// </summary>
    public int MaxSendMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>Largest message the server accepts; larger fails the call with ResourceExhausted. Default: 4 MiB.</summary>
    public int MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Whether a handler's exception text reaches the client in the status detail. Default: false,
    /// so internals do not leak; the exception is always logged.
    /// </summary>
    public bool EnableDetailedErrors { get; set; }

    /// <summary>Interceptors around every handler, outermost first. Set before <see cref="RpcServer.StartAsync"/>.</summary>
    public IList<Interceptor> Interceptors { get; } = [];

    /// <summary>How long <see cref="RpcServer.ShutdownAsync"/> lets calls in flight finish before cancelling them. Default: 5 s.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a new connection may take to send its handshake. Default: 10 s.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Calls one connection may run at once, announced to the client as the protocol's
    /// MaxConcurrentStreams; a client holds further calls until a stream frees. Default: 100, as
    /// Kestrel's HTTP/2 <c>MaxStreamsPerConnection</c>, which grpc-dotnet servers run under: each
    /// open call can hold a window of buffered data and queued handler work, so this bounds what
    /// one connection costs the server.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set below 1.</exception>
    public int MaxConcurrentCallsPerConnection
    {
        get => _maxConcurrentCallsPerConnection;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _maxConcurrentCallsPerConnection = value;
        }
    }

    /// <summary>Per-connection bounds of the Rpc protocol (windows, header size, buffered output, idle and reset limits); see <see cref="ConnectionLimits"/>.</summary>
    public ConnectionLimits Limits { get; } = new();

    /// <summary>
    /// The certificate an <c>https://</c> address presents (HTTP/1.1 and HTTP/2, chosen by ALPN).
    /// Default: none, and listening on <c>https://</c> without one is refused.
    /// </summary>
    /// <exception cref="ArgumentException">Set to a certificate without its private key.</exception>
    public X509Certificate2? HttpsCertificate
    {
        get => _httpsCertificate;
        set
        {
            if (value is not null && !value.HasPrivateKey)
            {
                throw new ArgumentException($"The HTTPS certificate '{value.Subject}' has no private key, so the server could not prove it owns it.", nameof(value));
            }

            _httpsCertificate = value;
        }
    }

    /// <summary>
    /// Whether standard-gRPC responses to a peer on this host (a loopback TCP address, or a
    /// connection sniffed on a Unix socket) carry the <c>rpc-local-endpoints</c> header naming this
    /// server's local addresses, so an Rpc channel that came in over http:// can move to them.
    /// Default: true. Remote peers never see it (docs/http.md).
    /// </summary>
    public bool AdvertiseLocalEndpoints { get; set; } = true;

    /// <summary>Where the server logs. Default: nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>The transports to resolve addresses with. Default: <see cref="TransportRegistry.Default"/>.</summary>
    public TransportRegistry? Transports { get; set; }
}

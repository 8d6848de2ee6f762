using System.Net.Security;
using Microsoft.Extensions.Logging;
using Rpc.Transports;

namespace Rpc.Client;

/// <summary>
/// Settings of an <see cref="RpcChannel"/>. Defaults match grpc-dotnet's where it has one, except
/// where a member says otherwise and why. Each setter checks its value, so a bad setting fails
/// where it is made rather than at the first call.
/// </summary>
public sealed partial class RpcChannelOptions
{
    private int _maxSendMessageSize = 4 * 1024 * 1024;
    private int _maxReceiveMessageSize = 4 * 1024 * 1024;
    private TimeSpan _connectTimeout = TimeSpan.FromSeconds(10);
    private TimeSpan _initialReconnectBackoff = TimeSpan.FromMilliseconds(100);
    private TimeSpan _maxReconnectBackoff = TimeSpan.FromSeconds(5);
    private TimeSpan _closeTimeout = TimeSpan.FromSeconds(2);
    private HttpMessageHandler? _httpHandler;
    private RemoteCertificateValidationCallback? _serverCertificateValidation;

    /// <summary>
    /// Largest message the client sends; larger fails the call with ResourceExhausted, naming the
    /// size and this limit. Default: 4 MiB, where grpc-dotnet sets no limit: a server's default
    /// receive limit is 4 MiB, so a larger request would fail there anyway, after crossing the
    /// wire; failing here says so sooner and more clearly. Applies on <c>http(s)://</c> too.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive.</exception>
    public int MaxSendMessageSize
    {
        get => _maxSendMessageSize;
        set => _maxSendMessageSize = Positive(value);
    }

    /// <summary>Largest message the client accepts; larger fails the call with ResourceExhausted. Default: 4 MiB. Applies on <c>http(s)://</c> too.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive.</exception>
    public int MaxReceiveMessageSize
    {
        get => _maxReceiveMessageSize;
        set => _maxReceiveMessageSize = Positive(value);
    }

    /// <summary>
    /// How long opening a connection and its handshake may take (on <c>http(s)://</c>, the TCP
    /// or Unix-socket connect and the TLS handshake). Default: 10 s.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive (an unbounded connect is not offered).</exception>
    public TimeSpan ConnectTimeout
    {
        get => _connectTimeout;
        set => _connectTimeout = Positive(value);
    }

    /// <summary>
    /// Wait after a failed connection attempt before the next one; calls in between fail at once
    /// with Unavailable. It grows by 1.6× per failure up to <see cref="MaxReconnectBackoff"/>.
    /// A connection that breaks after working is retried on the next call without waiting.
    /// Default: 100 ms. (On <c>http(s)://</c> Grpc.Net.Client reconnects by its own rules.)
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public TimeSpan InitialReconnectBackoff
    {
        get => _initialReconnectBackoff;
        set => _initialReconnectBackoff = NotNegative(value);
    }

    /// <summary>Upper bound of the reconnect wait. Default: 5 s.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public TimeSpan MaxReconnectBackoff
    {
        get => _maxReconnectBackoff;
        set => _maxReconnectBackoff = NotNegative(value);
    }

    /// <summary>
    /// How long disposing the channel lets each connection send what it still has queued (a
    /// CANCEL, the end of a stream) before tearing it down; a peer that stopped reading cannot
    /// hold <see cref="RpcChannel.Dispose"/> longer than about twice this. grpc-dotnet has no such
    /// setting: HTTP/2 connections there close without draining. Default: 2 s.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public TimeSpan CloseTimeout
    {
        get => _closeTimeout;
        set => _closeTimeout = NotNegative(value);
    }

    /// <summary>Per-connection bounds of the Rpc protocol (windows, header size, buffered output, idle time, keepalive); see <see cref="ConnectionLimits"/>.</summary>
    public ConnectionLimits Limits { get; } = new();

    /// <summary>Where the channel logs (on <c>http(s)://</c>, Grpc.Net.Client's logs too). Default: nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>
    /// The transports to resolve the address with, and on <c>http(s)://</c> the local endpoints a
    /// same-host upgrade connects to. Default: <see cref="TransportRegistry.Default"/>.
    /// </summary>
    public TransportRegistry? Transports { get; set; }

    /// <summary>
    /// For <c>https://</c>: decides whether the server's certificate is trusted (a private CA, a
    /// pinned certificate, a test's self-signed one). Default: the system's trust store decides.
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="HttpHandler"/> is set: that handler validates certificates itself.</exception>
    public RemoteCertificateValidationCallback? ServerCertificateValidation
    {
        get => _serverCertificateValidation;
        set
        {
            if (value is not null && _httpHandler is not null)
            {
                throw new InvalidOperationException("ServerCertificateValidation cannot be combined with HttpHandler: set the validation on that handler instead.");
            }

            _serverCertificateValidation = value;
        }
    }

    /// <summary>
    /// For <c>http(s)://</c> and <c>http+unix://</c>: the handler Grpc.Net.Client sends requests
    /// through, when the channel's own (a <see cref="SocketsHttpHandler"/> set from these options)
    /// will not do. The caller owns it: disposing the channel leaves it alone. On
    /// <c>http+unix://</c> it must connect to the socket itself. Default: the channel's own.
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="ServerCertificateValidation"/> is set: it only applies to the channel's own handler.</exception>
    public HttpMessageHandler? HttpHandler
    {
        get => _httpHandler;
        set
        {
            if (value is not null && _serverCertificateValidation is not null)
            {
                throw new InvalidOperationException("HttpHandler cannot be combined with ServerCertificateValidation: set the validation on that handler instead.");
            }

            _httpHandler = value;
        }
    }

    /// <summary>
    /// On <c>http(s)://</c>: when the server advertises local endpoints (an <c>RpcServer</c> does,
    /// in the <see cref="LocalEndpoints.HeaderName"/> response header) and runs on this host as
    /// this user, move later calls to the fastest of them (shm, then unix) and back to HTTP/2 when
    /// it goes away. See docs/same-host-upgrade.md. Default: on.
    /// </summary>
    public bool SameHostUpgrade { get; set; } = true;

    private static int Positive(int value, [System.Runtime.CompilerServices.CallerMemberName] string name = "")
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, name);
        return value;
    }

    private static TimeSpan Positive(TimeSpan value, [System.Runtime.CompilerServices.CallerMemberName] string name = "")
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero, name);
        return value;
    }

    private static TimeSpan NotNegative(TimeSpan value, [System.Runtime.CompilerServices.CallerMemberName] string name = "")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero, name);
        return value;
    }
}

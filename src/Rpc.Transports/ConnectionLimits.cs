using Rpc.Transports.Protocol;

namespace Rpc.Transports;

/// <summary>
/// The bounds one Rpc-protocol connection keeps, whichever side it is on: flow-control windows,
/// header size, buffered output, idle and close times, and the reset rate a server tolerates.
/// Reached as <c>RpcServerOptions.Limits</c> and <c>RpcChannelOptions.Limits</c>, in the shape of
/// Kestrel's <c>KestrelServerOptions.Limits.Http2</c>. docs/protocol.md says what each one bounds;
/// docs/limits.md what happens beyond it. A value out of range is refused when it is set.
/// </summary>
public sealed class ConnectionLimits
{
    private int _initialStreamWindowSize = new ConnectionSettings().InitialWindowSize;
    private int _initialConnectionWindowSize = ConnectionSettings.DefaultConnectionWindowSize;
    private int _maxHeaderListSize = ConnectionSettings.DefaultMaxHeaderListSize;
    private long _outputHighWaterMark = ConnectionOptions.DefaultOutputHighWaterMark;
    private TimeSpan _idleTimeout = Timeout.InfiniteTimeSpan;
    private TimeSpan _drainTimeout = TimeSpan.FromSeconds(5);
    private TimeSpan _keepAlivePingDelay = Timeout.InfiniteTimeSpan;
    private TimeSpan _keepAlivePingTimeout = TimeSpan.FromSeconds(20);
    private int _maxResetBurst = 1000;
    private double _maxResetsPerSecond = 500;

    /// <summary>
    /// Bytes the peer may send on one call before this side has read them (the stream's flow-control
    /// window; Kestrel's <c>InitialStreamWindowSize</c>). 64 KiB – 2^31-1. Default: 1 MiB.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Out of range.</exception>
    public int InitialStreamWindowSize
    {
        get => _initialStreamWindowSize;
        set => _initialStreamWindowSize = CheckWindow(value, nameof(InitialStreamWindowSize));
    }

    /// <summary>
    /// Bytes the peer may send on all calls of one connection together before this side has read
    /// them (Kestrel's <c>InitialConnectionWindowSize</c>). 64 KiB – 2^31-1. Default: 16 MiB.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Out of range.</exception>
    public int InitialConnectionWindowSize
    {
        get => _initialConnectionWindowSize;
        set => _initialConnectionWindowSize = CheckWindow(value, nameof(InitialConnectionWindowSize));
    }

    /// <summary>
    /// The largest header list (a call's request metadata, response headers or trailers) this side
    /// accepts: key and value bytes plus 32 per entry, as HTTP/2 counts it. 1 KiB – 16 MiB.
    /// Default: 16 KiB, gRPC's default metadata limit.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Out of range.</exception>
    public int MaxHeaderListSize
    {
        get => _maxHeaderListSize;
        set
        {
            if (value < ConnectionSettings.MinHeaderListSize || value > ConnectionSettings.MaxAllowedFrameSize)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxHeaderListSize), value, $"{nameof(MaxHeaderListSize)} must be between {ConnectionSettings.MinHeaderListSize} and {ConnectionSettings.MaxAllowedFrameSize} bytes.");
            }

            _maxHeaderListSize = value;
        }
    }

    /// <summary>
    /// Unsent output above which writers of call data wait: what a peer that stops reading makes
    /// this side buffer. At least 64 KiB. Default: 1 MiB.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Below 64 KiB.</exception>
    public long OutputHighWaterMark
    {
        get => _outputHighWaterMark;
        set
        {
            if (value < ConnectionSettings.MinWindowSize)
            {
                throw new ArgumentOutOfRangeException(nameof(OutputHighWaterMark), value, $"{nameof(OutputHighWaterMark)} must be at least {ConnectionSettings.MinWindowSize} bytes.");
            }

            _outputHighWaterMark = value;
        }
    }

    /// <summary>
    /// A connection with no call for this long is closed (GOAWAY, then close), between one and two
    /// periods after its last call. Positive, or <see cref="Timeout.InfiniteTimeSpan"/> for never.
    /// Default: never, as grpc-dotnet's server keeps idle connections.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Zero or negative (other than infinite).</exception>
    public TimeSpan IdleTimeout
    {
        get => _idleTimeout;
        set => _idleTimeout = CheckPositiveOrInfinite(value, nameof(IdleTimeout));
    }

    /// <summary>
    /// When nothing has arrived on a connection for this long, a PING is sent, so a peer that
    /// vanished without closing (a TCP peer behind a dead link, a frozen process) is found even when
    /// no call is writing. Positive, or <see cref="Timeout.InfiniteTimeSpan"/> for never. Default:
    /// never, as grpc-dotnet's <c>SocketsHttpHandler.KeepAlivePingDelay</c> and Kestrel's.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Zero or negative (other than infinite).</exception>
    public TimeSpan KeepAlivePingDelay
    {
        get => _keepAlivePingDelay;
        set => _keepAlivePingDelay = CheckPositiveOrInfinite(value, nameof(KeepAlivePingDelay));
    }

    /// <summary>
    /// How long the keepalive PING may go unanswered (nothing at all arriving) before the connection
    /// is closed and its calls fail <c>Unavailable</c>. Positive. Default: 20 s, as grpc-dotnet and Kestrel.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Zero, negative or infinite.</exception>
    public TimeSpan KeepAlivePingTimeout
    {
        get => _keepAlivePingTimeout;
        set
        {
            if (value <= TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(KeepAlivePingTimeout), value, $"{nameof(KeepAlivePingTimeout)} must be positive.");
            }

            _keepAlivePingTimeout = value;
        }
    }

    /// <summary>
    /// How long a closing connection lets what it wrote reach the peer before it is torn down, so a
    /// peer that stopped reading cannot hold a close. Positive. Default: 5 s.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Zero, negative or infinite.</exception>
    public TimeSpan DrainTimeout
    {
        get => _drainTimeout;
        set
        {
            if (value <= TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(DrainTimeout), value, $"{nameof(DrainTimeout)} must be positive.");
            }

            _drainTimeout = value;
        }
    }

    /// <summary>
    /// Server: calls a client may cancel early or have refused at once, in a burst, before the rate
    /// below applies; past both the connection is closed as a rapid-reset attack (CVE-2023-44487).
    /// At least 1. Default: 1000.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Below 1.</exception>
    public int MaxResetBurst
    {
        get => _maxResetBurst;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(MaxResetBurst));
            _maxResetBurst = value;
        }
    }

    /// <summary>Server: the sustained rate of such resets allowed once the burst is spent. Positive. Default: 500 a second.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Zero, negative or not a number.</exception>
    public double MaxResetsPerSecond
    {
        get => _maxResetsPerSecond;
        set
        {
            if (!(value > 0) || double.IsInfinity(value))
            {
                throw new ArgumentOutOfRangeException(nameof(MaxResetsPerSecond), value, $"{nameof(MaxResetsPerSecond)} must be a positive number.");
            }

            _maxResetsPerSecond = value;
        }
    }

    /// <summary>These limits applied to <paramref name="options"/>.</summary>
    internal ConnectionOptions ApplyTo(ConnectionOptions options) => options with
    {
        Settings = options.Settings with
        {
            InitialWindowSize = InitialStreamWindowSize,
            ConnectionWindowSize = InitialConnectionWindowSize,
            MaxHeaderListSize = MaxHeaderListSize,
        },
        OutputHighWaterMark = OutputHighWaterMark,
        IdleTimeout = IdleTimeout,
        KeepAlivePingDelay = KeepAlivePingDelay,
        KeepAlivePingTimeout = KeepAlivePingTimeout,
        DrainTimeout = DrainTimeout,
        ResetBurst = MaxResetBurst,
        ResetsPerSecond = MaxResetsPerSecond,
    };

    private static int CheckWindow(int value, string name) =>
        value >= ConnectionSettings.MinWindowSize
            ? value
            : throw new ArgumentOutOfRangeException(name, value, $"{name} must be between {ConnectionSettings.MinWindowSize} and {int.MaxValue} bytes.");

    private static TimeSpan CheckPositiveOrInfinite(TimeSpan value, string name) =>
        value > TimeSpan.Zero || value == Timeout.InfiniteTimeSpan
            ? value
            : throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive, or Timeout.InfiniteTimeSpan.");
}

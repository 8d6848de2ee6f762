using Grpc.Core;
using Microsoft.Extensions.Logging;
using Rpc.Transports;
using Rpc.Transports.Protocol;

namespace Rpc.Client.Internal;

/// <summary>
/// Owns the channel's connection: opens it on the first call, replaces it after it breaks or the
/// server sends GOAWAY, spaces out failed attempts with exponential backoff, and reports where it
/// stands as a <see cref="ConnectivityState"/> (see ConnectionManager.Ready.cs for the waits on it).
/// </summary>
/// <remarks>
/// States move as in grpc-dotnet's subchannel: Idle → Connecting (a call, <c>ConnectAsync</c>, or a
/// wait-for-ready call needs a connection) → Ready, or → TransientFailure when the attempt fails;
/// after the backoff, TransientFailure → Connecting when something still waits for a connection,
/// else → Idle; Ready → Idle once the connection closes or the server sends GOAWAY; Shutdown on
/// dispose. Every move happens under <see cref="_lock"/>, with the fields it describes.
/// One connect attempt is shared by every call that arrives while it runs; each call waits for it
/// only as long as its own deadline and token allow, and the attempt goes on for the others.
/// Every outcome of an attempt, whatever the exception, clears it, so the next call tries again.
/// A connection is forgotten and disposed by whoever removes it from <see cref="_connections"/>:
/// the watcher started when it opened (once it closes) or <see cref="DisposeAsync"/>.
/// </remarks>
internal sealed partial class ConnectionManager : IAsyncDisposable
{
    private const double BackoffMultiplier = 1.6;

    // A retry nobody asked for by a call (a wait-for-ready call or ConnectAsync waiting through the
    // backoff) waits at least this, so a zero backoff against a refusing peer is not a busy loop.
    private static readonly TimeSpan MinAutomaticRetryDelay = TimeSpan.FromMilliseconds(10);

    private readonly TransportAddress _address;
    private readonly ITransport _transport;
    private readonly RpcChannelOptions _options;
    private readonly ConnectionOptions _connectionOptions;
    private readonly ILogger _logger;
    private readonly Func<PeerIdentity?, string?>? _checkPeer;
    private readonly Lock _lock = new();
    private readonly HashSet<MultiplexedConnection> _connections = [];
    private readonly CancellationTokenSource _disposed = new();
    private readonly ConnectivityTracker _tracker = new();

    private MultiplexedConnection? _current;
    private Task<MultiplexedConnection>? _connecting;
    private TimeSpan _backoff;
    private long _nextAttemptTimestamp;
    private string? _lastFailure;
    // How many waiters (ConnectAsync, wait-for-ready calls) want a connection through failures;
    // while above zero the end of a backoff starts the next attempt by itself.
    private int _demand;
    private ITimer? _retryTimer;

    /// <summary>A manager that connects to <paramref name="address"/> through <paramref name="transport"/> on the first call.</summary>
    /// <param name="address">Where to connect.</param>
    /// <param name="transport">The transport that serves the address.</param>
    /// <param name="options">The channel's settings: timeouts, backoff, limits.</param>
    /// <param name="logger">Where connection events go.</param>
    /// <param name="checkPeer">
    /// Vets whom each new connection reached before a byte of a call crosses it; a non-null return
    /// says why it is refused and fails the attempt (the same-host upgrade uses it to insist the
    /// server runs as the advertised user).
    /// </param>
    public ConnectionManager(TransportAddress address, ITransport transport, RpcChannelOptions options, ILogger logger, Func<PeerIdentity?, string?>? checkPeer = null)
    {
        _address = address;
        _checkPeer = checkPeer;
        _transport = transport;
        _options = options;
        _logger = logger;
        _connectionOptions = options.Limits.ApplyTo(new ConnectionOptions
        {
            MaxReceiveMessageSize = options.MaxReceiveMessageSize,
            HandshakeTimeout = options.ConnectTimeout,
            InlineContinuations = options.UnsafePreferInlineScheduling,
        });
        _backoff = options.InitialReconnectBackoff;
        // Read once per channel, as GrpcChannel does: credentials that contradict the address are
        // refused here, when the channel is made, and calls reuse what was read.
        ChannelCallCredentials = CallSecurity.ReadChannelCredentials(address, options);
    }

    /// <summary>The call credentials composed into <see cref="RpcChannelOptions.Credentials"/>, if any.</summary>
    public List<CallCredentials>? ChannelCallCredentials { get; }

    /// <summary>The channel's logger, for its calls' events too.</summary>
    public ILogger Logger => _logger;

    /// <summary>The address this channel connects to, as its errors name it.</summary>
    public TransportAddress Address => _address;

    /// <summary>How many connections the channel holds open (the current one and any still draining).</summary>
    internal int OpenConnectionCount
    {
        get
        {
            lock (_lock)
            {
                return _connections.Count;
            }
        }
    }

    /// <summary>The current connection when one takes new calls, without waiting or allocating.</summary>
    public bool TryGetCurrent(out MultiplexedConnection connection)
    {
        var current = Volatile.Read(ref _current);
        if (current is { AcceptsNewCalls: true })
        {
            connection = current;
            return true;
        }

        connection = null!;
        return false;
    }

    /// <summary>
    /// A connection that takes new calls; throws an Unavailable <see cref="RpcException"/> when none
    /// can be had, and <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/>
    /// fires first (the attempt itself goes on for other callers). With <paramref name="waitForReady"/>
    /// a failed attempt is not the end: it waits through the backoff and the next attempts until a
    /// connection is up, the token fires or the channel is disposed.
    /// </summary>
    public ValueTask<MultiplexedConnection> GetConnectionAsync(CancellationToken cancellationToken, bool waitForReady = false)
    {
        if (waitForReady)
        {
            return new ValueTask<MultiplexedConnection>(WaitForReadyAsync(cancellationToken));
        }

        Task<MultiplexedConnection> connecting;
        lock (_lock)
        {
            ThrowIfDisposed();
            if (TakeCurrentLocked() is { } current)
            {
                return ValueTask.FromResult(current);
            }

            if (_connecting is null)
            {
                var wait = TimeProvider.System.GetElapsedTime(TimeProvider.System.GetTimestamp(), _nextAttemptTimestamp);
                if (_lastFailure is not null && wait > TimeSpan.Zero)
                {
                    throw new RpcException(new Status(StatusCode.Unavailable,
                        $"Cannot connect to '{_address}' ({_lastFailure}); next attempt in {wait.TotalMilliseconds:0} ms."));
                }

                StartAttemptLocked();
            }

            connecting = _connecting!;
        }

        return connecting.IsCompleted || !cancellationToken.CanBeCanceled
            ? new ValueTask<MultiplexedConnection>(connecting)
            : new ValueTask<MultiplexedConnection>(connecting.WaitAsync(cancellationToken));
    }

    /// <summary>
    /// Under <see cref="_lock"/>: the current connection if it still takes new calls. One the server
    /// sent GOAWAY on stops being current here (it drains on its own; its collector disposes it),
    /// and the channel goes Idle: nothing tells the manager of a GOAWAY but the connection's flag.
    /// </summary>
    private MultiplexedConnection? TakeCurrentLocked()
    {
        if (_current is not { } current)
        {
            return null;
        }

        if (current.AcceptsNewCalls)
        {
            return current;
        }

        _current = null;
        _tracker.Set(ConnectivityState.Idle);
        return null;
    }

    /// <summary>Under <see cref="_lock"/>: starts one connect attempt, which every caller until it ends shares.</summary>
    private void StartAttemptLocked()
    {
        _retryTimer?.Dispose();
        _retryTimer = null;
        _tracker.Set(ConnectivityState.Connecting);
        _connecting = AttemptAsync();
    }

    /// <summary>
    /// Timer thread, once the backoff after a failure is over: the next attempt starts at once if a
    /// waiter still wants a connection, otherwise the channel rests Idle until something asks.
    /// </summary>
    private void OnBackoffElapsed()
    {
        lock (_lock)
        {
            if (_disposed.IsCancellationRequested || _connecting is not null || _current is not null)
            {
                return;
            }

            if (_demand > 0)
            {
                StartAttemptLocked();
            }
            else
            {
                _tracker.Set(ConnectivityState.Idle);
            }
        }
    }

    private async Task<MultiplexedConnection> AttemptAsync()
    {
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        MultiplexedConnection? connection = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_disposed.Token);
            timeout.CancelAfter(_options.ConnectTimeout);
            var transportConnection = await _transport.ConnectAsync(_address, timeout.Token).ConfigureAwait(false);
            if (_checkPeer?.Invoke(transportConnection.PeerIdentity) is { } refused)
            {
                transportConnection.Abort(new IOException(refused));
                await transportConnection.DisposeAsync().AsTask().WaitAsync(_options.CloseTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                throw new IOException(refused);
            }

            connection = new MultiplexedConnection(transportConnection, _connectionOptions, acceptor: null, _logger);
            await connection.StartAsync(timeout.Token).ConfigureAwait(false);
            lock (_lock)
            {
                _connecting = null;
                ThrowIfDisposed();
                _current = connection;
                _connections.Add(connection);
                _lastFailure = null;
                _backoff = _options.InitialReconnectBackoff;
                _tracker.Set(ConnectivityState.Ready);
            }

            ClientLog.Connected(_logger, _address.ToString());
            _ = CollectWhenClosedAsync(connection);
            await CollectDrainedAsync().ConfigureAwait(false);
            return connection;
        }
        catch (Exception ex)
        {
            // Every failure, of whatever type, must clear the attempt: a faulted task left in
            // _connecting would fail every later call on this channel.
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            var reason = ex switch
            {
                OperationCanceledException when _disposed.IsCancellationRequested => "the channel was disposed",
                OperationCanceledException => $"no connection within {_options.ConnectTimeout.TotalSeconds:0.#} s",
                IOException or ArgumentException or ObjectDisposedException => ex.Message,
                _ => $"{ex.GetType().Name}: {ex.Message}",
            };
            lock (_lock)
            {
                _connecting = null;
                _lastFailure = reason;
                _nextAttemptTimestamp = TimeProvider.System.GetTimestamp() + (long)(_backoff.TotalSeconds * TimeProvider.System.TimestampFrequency);
                if (!_disposed.IsCancellationRequested)
                {
                    _tracker.Set(ConnectivityState.TransientFailure);
                    var delay = _demand > 0 && _backoff < MinAutomaticRetryDelay ? MinAutomaticRetryDelay : _backoff;
                    _retryTimer?.Dispose();
                    _retryTimer = TimeProvider.System.CreateTimer(static state => ((ConnectionManager)state!).OnBackoffElapsed(), this, delay, Timeout.InfiniteTimeSpan);
                }

                _backoff = TimeSpan.FromTicks(Math.Min((long)(_backoff.Ticks * BackoffMultiplier), _options.MaxReconnectBackoff.Ticks));
            }

            ClientLog.ConnectFailed(_logger, _address.ToString(), reason);
            throw new RpcException(new Status(StatusCode.Unavailable, $"Cannot connect to '{_address}': {reason}", ex));
        }
    }

    /// <summary>Forgets and disposes <paramref name="connection"/> as soon as it closes, not at the next connect.</summary>
    private async Task CollectWhenClosedAsync(MultiplexedConnection connection)
    {
        await connection.Closed.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        lock (_lock)
        {
            if (!_connections.Remove(connection))
            {
                // DisposeAsync took it and disposes it.
                return;
            }

            if (_current == connection)
            {
                _current = null;
                _tracker.Set(ConnectivityState.Idle);
            }
        }

        await DisposeBoundedAsync(connection).ConfigureAwait(false);
    }

    /// <summary>Disposes connections the server has sent GOAWAY on once their last call is done.</summary>
    private async ValueTask CollectDrainedAsync()
    {
        List<MultiplexedConnection> drained;
        lock (_lock)
        {
            drained = _connections.Where(c => !c.AcceptsNewCalls && c.ActiveStreamCount == 0 && c != _current).ToList();
            foreach (var connection in drained)
            {
                _connections.Remove(connection);
            }
        }

        foreach (var connection in drained)
        {
            await DisposeBoundedAsync(connection).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Disposes <paramref name="connection"/>, letting its output drain for at most
    /// <see cref="RpcChannelOptions.CloseTimeout"/>, then aborts it: a peer that stopped reading must not
    /// hold the channel's dispose (or a collector task) forever.
    /// </summary>
    private async Task DisposeBoundedAsync(MultiplexedConnection connection)
    {
        var disposing = connection.DisposeAsync().AsTask();
        try
        {
            await disposing.WaitAsync(_options.CloseTimeout).ConfigureAwait(false);
            return;
        }
        catch (TimeoutException)
        {
            ClientLog.CloseTimedOut(_logger, _address.ToString(), _options.CloseTimeout.TotalSeconds);
            connection.Abort(new IOException($"The connection to '{_address}' did not close within {_options.CloseTimeout.TotalSeconds:0.#} s."));
        }

        // After the abort the transport fails its pending reads and writes, so this ends soon; it
        // is still bounded, so that a transport that ignores the abort cannot hang the caller.
        await disposing.WaitAsync(_options.CloseTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>
    /// Stops connecting and closes every connection; returns within about twice
    /// <see cref="RpcChannelOptions.CloseTimeout"/> even when the peer has stopped reading.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        List<MultiplexedConnection> connections;
        Task<MultiplexedConnection>? connecting;
        lock (_lock)
        {
            if (_disposed.IsCancellationRequested)
            {
                return;
            }

            _disposed.Cancel();
            _tracker.Set(ConnectivityState.Shutdown);
            _retryTimer?.Dispose();
            _retryTimer = null;
            connections = [.. _connections];
            _connections.Clear();
            _current = null;
            connecting = _connecting;
        }

        if (connecting is not null)
        {
            // The attempt sees _disposed and stops; a transport that ignores the token is not
            // waited for past the bound (its connection, if any, is then the attempt's to drop).
            await ((Task)connecting).WaitAsync(_options.CloseTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await Task.WhenAll(connections.Select(DisposeBoundedAsync)).ConfigureAwait(false);
    }

    /// <summary>How the disposed channel names itself in the exception a call gets before it has a connection.</summary>
    internal const string DisposedObjectPrefix = "RpcChannel ";

    private void ThrowIfDisposed()
    {
        if (_disposed.IsCancellationRequested)
        {
            throw new ObjectDisposedException($"{DisposedObjectPrefix}'{_address}'", $"The channel to '{_address}' has been disposed.");
        }
    }
}

using Grpc.Core;
using Microsoft.Extensions.Logging;
using Rpc.Transports;
using Rpc.Transports.Protocol;

namespace Rpc.Client.Internal;

/// <summary>
/// Owns the channel's connection: opens it on the first call, replaces it after it breaks or the
/// server sends GOAWAY, and spaces out failed attempts with exponential backoff.
/// </summary>
internal sealed class ConnectionManager : IAsyncDisposable
{
    private const double BackoffMultiplier = 1.6;

    private readonly TransportAddress _address;
    private readonly ITransport _transport;
    private readonly RpcChannelOptions _options;
    private readonly ConnectionOptions _connectionOptions;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly HashSet<MultiplexedConnection> _connections = [];
    private readonly CancellationTokenSource _disposed = new();

    private MultiplexedConnection? _current;
    private Task<MultiplexedConnection>? _connecting;
    private TimeSpan _backoff;
    private long _nextAttemptTimestamp;
    private string? _lastFailure;

    public ConnectionManager(TransportAddress address, ITransport transport, RpcChannelOptions options, ILogger logger)
    {
        _address = address;
        _transport = transport;
        _options = options;
        _logger = logger;
        _connectionOptions = new ConnectionOptions
        {
            MaxReceiveMessageSize = options.MaxReceiveMessageSize,
            HandshakeTimeout = options.ConnectTimeout,
        };
        _backoff = options.InitialReconnectBackoff;
    }

    /// <summary>A connection that takes new calls; throws an Unavailable <see cref="RpcException"/> when none can be had.</summary>
    public ValueTask<MultiplexedConnection> GetConnectionAsync()
    {
        Task<MultiplexedConnection> connecting;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
            if (_current is { AcceptsNewCalls: true } current)
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

                _connecting = ConnectAsync();
            }

            connecting = _connecting;
        }

        return new ValueTask<MultiplexedConnection>(connecting);
    }

    private async Task<MultiplexedConnection> ConnectAsync()
    {
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        MultiplexedConnection? connection = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_disposed.Token);
            timeout.CancelAfter(_options.ConnectTimeout);
            var transportConnection = await _transport.ConnectAsync(_address, timeout.Token).ConfigureAwait(false);
            connection = new MultiplexedConnection(transportConnection, _connectionOptions, acceptor: null, _logger);
            await connection.StartAsync(timeout.Token).ConfigureAwait(false);
            lock (_lock)
            {
                _connecting = null;
                ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);

                _current = connection;
                _connections.Add(connection);
                _lastFailure = null;
                _backoff = _options.InitialReconnectBackoff;
            }

            ClientLog.Connected(_logger, _address.ToString());
            await CollectClosedAsync().ConfigureAwait(false);
            return connection;
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or ArgumentException)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            var reason = ex is OperationCanceledException ? $"no connection within {_options.ConnectTimeout.TotalSeconds:0.#} s" : ex.Message;
            lock (_lock)
            {
                _connecting = null;
                _lastFailure = reason;
                _nextAttemptTimestamp = TimeProvider.System.GetTimestamp() + (long)(_backoff.TotalSeconds * TimeProvider.System.TimestampFrequency);
                _backoff = TimeSpan.FromTicks(Math.Min((long)(_backoff.Ticks * BackoffMultiplier), _options.MaxReconnectBackoff.Ticks));
            }

            ClientLog.ConnectFailed(_logger, _address.ToString(), reason);
            throw new RpcException(new Status(StatusCode.Unavailable, $"Cannot connect to '{_address}': {reason}", ex));
        }
    }

    /// <summary>Forgets connections that have closed, so they can be collected.</summary>
    public async ValueTask CollectClosedAsync()
    {
        List<MultiplexedConnection> closed;
        lock (_lock)
        {
            closed = _connections.Where(c => c.Closed.IsCompleted || (!c.AcceptsNewCalls && c.ActiveStreamCount == 0 && c != _current)).ToList();
            foreach (var connection in closed)
            {
                _connections.Remove(connection);
            }
        }

        foreach (var connection in closed)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

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
            connections = [.. _connections];
            _connections.Clear();
            _current = null;
            connecting = _connecting;
        }

        if (connecting is not null)
        {
            try
            {
                connections.Add(await connecting.ConfigureAwait(false));
            }
            catch (Exception ex) when (ex is RpcException or ObjectDisposedException)
            {
                // Cancelled by the dispose itself.
            }
        }

        foreach (var connection in connections)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        _disposed.Dispose();
    }
}

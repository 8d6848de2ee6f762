using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Rpc.Server.Internal;
using Rpc.Transports;
using Rpc.Transports.Pipes;

namespace Rpc.Server;

/// <summary>
/// Hosts Grpc.Tools-generated services on one or more Rpc addresses:
/// <c>new RpcServer().AddService(new CalculatorImpl()).Listen("unix:///run/calc.sock")</c>, then
/// <see cref="StartAsync"/>. Every address serves the same service instances.
/// </summary>
public sealed class RpcServer : IAsyncDisposable, IDisposable
{
    private static readonly TimeSpan MaxAcceptBackoff = TimeSpan.FromSeconds(1);

    private readonly ServerCallEnvironment _environment;
    private readonly TransportRegistry _transports;
    private readonly List<(TransportAddress Address, ListenOptions Options)> _addresses = [];
    private readonly List<HttpListenAddress> _httpAddresses = [];
    // Where each Listen call went (a local listener or an http address), so BoundAddresses keeps their order.
    private readonly List<(bool Http, int Index)> _listenOrder = [];
    private readonly ConcurrentDictionary<ITransportConnection, Task> _sniffing = new();
    private Task<IHttpGateway?>? _gateway;
    private readonly List<ITransportListener> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly ConcurrentDictionary<ServerConnection, Task> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _parentDisconnected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _listenOnParentPipes;
    private State _state;

    /// <summary>Creates a server with <paramref name="options"/>, or the defaults.</summary>
    public RpcServer(RpcServerOptions? options = null)
    {
        options ??= new RpcServerOptions();
        var logger = options.LoggerFactory?.CreateLogger<RpcServer>() ?? (ILogger)NullLogger.Instance;
        _environment = new ServerCallEnvironment(options, logger);
        _transports = options.Transports ?? TransportRegistry.Default;
    }

    private enum State
    {
        Created,
        Started,
        Stopped,
    }

    /// <summary>
    /// How long <see cref="ShutdownAsync"/> waits for handlers to return once it has cancelled
    /// them (after <see cref="RpcServerOptions.ShutdownTimeout"/>); a handler that ignores its
    /// token is then left behind, its call already ended for the client.
    /// </summary>
    public static readonly TimeSpan HandlerAbortTimeout = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long <see cref="ShutdownAsync"/> lets each connection send what it still has queued
    /// (trailers, GOAWAY) before aborting it, so a client that stopped reading cannot hold shutdown.
    /// </summary>
    public static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The calls, options and methods this server's connections share (tests reach in to force interleavings).</summary>
    internal ServerCallEnvironment Environment => _environment;

    /// <summary>The addresses the server listens on, as bound; filled in by <see cref="StartAsync"/>.</summary>
    public IReadOnlyList<string> BoundAddresses { get; private set; } = [];

    /// <summary>
    /// Serves <paramref name="service"/>, an instance of a class derived from a Grpc.Tools-generated
    /// <c>*Base</c> class. Call before <see cref="StartAsync"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The type is not a generated service.</exception>
    /// <exception cref="InvalidOperationException">The server has started, or a method of the service is served already (the message names it).</exception>
    public RpcServer AddService<T>(T service)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(service);
        lock (_lock)
        {
            ThrowIfNotCreated();
            ServiceBinder.Bind(_environment.Methods, service);
        }

        return this;
    }

    /// <summary>
    /// Adds an address to listen on, such as <c>unix:///run/calc.sock</c>, with its own settings
    /// (who may connect, the socket's file mode) set by <paramref name="configure"/>; by default
    /// only the server's own user may connect over a local transport. Call before <see cref="StartAsync"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The address is malformed, no transport serves its scheme, or the settings are invalid (the message names which).</exception>
    public RpcServer Listen(string address, Action<ListenOptions>? configure = null)
    {
        var parsed = TransportAddress.Parse(address);
        if (HttpListenAddress.IsHttp(parsed))
        {
            return ListenHttp(parsed, configure);
        }

        _transports.Resolve(parsed);
        var options = new ListenOptions();
        configure?.Invoke(options);
        ListenOptionsValidator.Validate(parsed, options);
        if (ReferenceEquals(options.Logger, NullLogger.Instance))
        {
            // The listener logs where the server does, unless this address was given a logger of its own.
            options.Logger = _environment.Logger;
        }

        lock (_lock)
        {
            ThrowIfNotCreated();
            _listenOrder.Add((false, _addresses.Count));
            _addresses.Add((parsed, options));
        }

        return this;
    }

    private RpcServer ListenHttp(TransportAddress parsed, Action<ListenOptions>? configure)
    {
        var http = HttpListenAddress.Parse(parsed);
        if (configure is not null)
        {
            throw new ArgumentException($"'{parsed}' takes no ListenOptions: who may connect over HTTP is not known to the transport (authenticate in an interceptor, or use https with client certificates).", nameof(configure));
        }

        if (http.Tls && _environment.Options.HttpsCertificate is null)
        {
            throw new ArgumentException($"'{parsed}' needs a certificate: set RpcServerOptions.HttpsCertificate.", nameof(parsed));
        }

        lock (_lock)
        {
            ThrowIfNotCreated();
            _listenOrder.Add((true, _httpAddresses.Count));
            _httpAddresses.Add(http);
        }

        return this;
    }

    /// <summary>
    /// In a child started by <c>RpcChannel.ForChildProcess</c>: serve the parent over the anonymous
    /// pipes it handed down. Await <see cref="ParentDisconnected"/> to learn when the parent is gone.
    /// </summary>
    public RpcServer ListenOnParentPipes()
    {
        lock (_lock)
        {
            ThrowIfNotCreated();
            _listenOnParentPipes = true;
        }

        return this;
    }

    /// <summary>Completes when the parent's pipes close (see <see cref="ListenOnParentPipes"/>).</summary>
    public Task ParentDisconnected => _parentDisconnected.Task;

    /// <summary>Binds every address and starts accepting calls.</summary>
    /// <exception cref="AddressInUseException">Another live server owns one of the addresses.</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            ThrowIfNotCreated();
            if (_addresses.Count == 0 && _httpAddresses.Count == 0 && !_listenOnParentPipes)
            {
                throw new InvalidOperationException("Call Listen with at least one address before starting the server.");
            }

            _state = State.Started;
            _environment.Methods.Freeze([.. _environment.Options.Interceptors]);
        }

        try
        {
            if (_listenOnParentPipes)
            {
                _listeners.Add(AnonymousPipeTransport.ListenOnParentPipes());
            }

            foreach (var (address, options) in _addresses)
            {
                var listener = await _transports.Resolve(address).BindAsync(address, options, cancellationToken).ConfigureAwait(false);
                _listeners.Add(listener);
                ServerLog.Listening(_environment.Logger, listener.Address.ToString());
            }

            if (_httpAddresses.Count > 0)
            {
                var gateway = HttpGatewayFactory.Create(_environment, _httpAddresses, LocalEndpointsToAdvertise());
                lock (_lock)
                {
                    _gateway = Task.FromResult<IHttpGateway?>(gateway);
                }

                await gateway.StartAsync(cancellationToken).ConfigureAwait(false);
                foreach (var bound in gateway.BoundAddresses)
                {
                    ServerLog.Listening(_environment.Logger, bound);
                }
            }
        }
        catch
        {
            await DisposeListenersAsync().ConfigureAwait(false);
            _listeners.Clear();
            if (_gateway is { } started && await started.ConfigureAwait(false) is { } gateway)
            {
                await gateway.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }

        var local = _listeners.Where(l => l.Address.Scheme != "parent").Select(l => l.Address.ToString()).ToList();
        var http = _gateway is null ? [] : (await _gateway.ConfigureAwait(false))!.BoundAddresses;
        BoundAddresses = [.. _listenOrder.Select(o => o.Http ? http[o.Index] : local[o.Index]), .. _listeners.Where(l => l.Address.Scheme == "parent").Select(l => l.Address.ToString())];
        foreach (var listener in _listeners)
        {
            _acceptLoops.Add(AcceptLoopAsync(listener));
        }
    }

    /// <summary>
    /// Accepts until shutdown. It never ends for good on an error: a listener that fails (out of
    /// file descriptors, a peer refused mid-accept) is logged and asked again after a backoff that
    /// doubles from 10 ms up to 1 s, so a persistent fault neither spins nor stops the server.
    /// </summary>
    private async Task AcceptLoopAsync(ITransportListener listener)
    {
        var fromParent = listener.Address.Scheme == "parent";
        var backoff = TimeSpan.Zero;
        while (!_stopping.IsCancellationRequested)
        {
            ITransportConnection? transport;
            try
            {
                transport = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                backoff = backoff == TimeSpan.Zero ? TimeSpan.FromMilliseconds(10) : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxAcceptBackoff.Ticks));
                ServerLog.AcceptFailed(_environment.Logger, listener.Address.ToString(), backoff.TotalMilliseconds, ex);
                try
                {
                    await Task.Delay(backoff, _stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            if (transport is null)
            {
                return;
            }

            backoff = TimeSpan.Zero;
            if (listener.Address.Scheme is "unix" or "tcp")
            {
                // Either protocol may arrive here: the first bytes decide (docs/http.md, "One socket, both protocols").
                // Registered before it starts: a sniff that ends at once removes its entry rather than leaving it behind.
                _sniffing[transport] = Task.CompletedTask;
                _sniffing.TryUpdate(transport, SniffAsync(transport, listener.Address), Task.CompletedTask);
            }
            else
            {
                StartConnection(transport, fromParent, listener.Address);
            }
        }
    }

    /// <summary>
    /// Reads (without consuming) the first bytes of a connection from a unix or tcp listener: HTTP/2's
    /// client preface goes to the embedded Kestrel, anything else to our protocol, which refuses
    /// what is not its own. A peer silent for the handshake timeout is dropped, as our protocol does.
    /// </summary>
    private async Task SniffAsync(ITransportConnection transport, TransportAddress address)
    {
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        try
        {
            var verdict = await PrefaceSniffer.SniffAsync(transport.Transport.Input, _environment.Options.HandshakeTimeout, _stopping.Token).ConfigureAwait(false);
            switch (verdict)
            {
                case SniffResult.Http2:
                    if (await GetGatewayAsync().ConfigureAwait(false) is { } gateway && gateway.TryAdopt(transport, address))
                    {
                        return;
                    }

                    ServerLog.HttpConnectionRefused(_environment.Logger, transport.Peer);
                    await CloseQuietlyAsync(transport).ConfigureAwait(false);
                    return;
                case SniffResult.Silent:
                    ServerLog.HandshakeFailed(_environment.Logger, transport.Peer, "The peer sent nothing within the handshake timeout.");
                    await CloseQuietlyAsync(transport).ConfigureAwait(false);
                    return;
                default:
                    StartConnection(transport, fromParent: false, address);
                    return;
            }
        }
        catch (Exception ex)
        {
            // Stopping, or the transport failed under the read: either way this connection is over.
            ServerLog.HandshakeFailed(_environment.Logger, transport.Peer, ex.Message);
            await CloseQuietlyAsync(transport).ConfigureAwait(false);
        }
        finally
        {
            _sniffing.TryRemove(transport, out _);
        }
    }

    /// <summary>The bound local addresses a same-host client could move to, fastest first: shared memory, then Unix sockets.</summary>
    private List<string> LocalEndpointsToAdvertise() =>
    [
        .. _listeners.Where(l => l.Address.Scheme == "shm").Select(l => l.Address.ToString()),
        .. _listeners.Where(l => l.Address.Scheme == "unix").Select(l => l.Address.ToString()),
    ];

    private static async Task CloseQuietlyAsync(ITransportConnection transport)
    {
        transport.Abort();
        await transport.DisposeAsync().AsTask().WaitAsync(CloseTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>The embedded Kestrel, started now if no http address started it; null once the server stops or when it cannot start.</summary>
    private Task<IHttpGateway?> GetGatewayAsync()
    {
        lock (_lock)
        {
            if (_state == State.Stopped && _gateway is null)
            {
                return Task.FromResult<IHttpGateway?>(null);
            }

            return _gateway ??= StartGatewayLazilyAsync();
        }
    }

    private async Task<IHttpGateway?> StartGatewayLazilyAsync()
    {
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        var gateway = HttpGatewayFactory.Create(_environment, [], LocalEndpointsToAdvertise());
        try
        {
            await gateway.StartAsync(_stopping.Token).ConfigureAwait(false);
            return gateway;
        }
        catch (Exception ex)
        {
            ServerLog.HttpStartFailed(_environment.Logger, ex);
            await gateway.DisposeAsync().ConfigureAwait(false);
            return null;
        }
    }

    private void StartConnection(ITransportConnection transport, bool fromParent, TransportAddress address)
    {
        ServerConnection connection;
        try
        {
            connection = new ServerConnection(_environment, transport);
        }
        catch (Exception ex)
        {
            ServerLog.AcceptFailed(_environment.Logger, address.ToString(), 0, ex);
            transport.Abort(ex);
            _ = transport.DisposeAsync().AsTask();
            return;
        }

        _connections[connection] = RunConnectionAsync(connection, fromParent);
    }

    private async Task RunConnectionAsync(ServerConnection connection, bool fromParent)
    {
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        try
        {
            await connection.RunAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // A connection's failure is its own: it must not fault the task shutdown waits on.
            ServerLog.ConnectionFailed(_environment.Logger, connection.Peer, ex);
        }
        finally
        {
            _connections.TryRemove(connection, out _);
            if (fromParent)
            {
                _parentDisconnected.TrySetResult();
            }
        }
    }

    /// <summary>
    /// Stops gracefully: stops accepting, refuses new calls (GOAWAY), lets calls in flight finish
    /// within <see cref="RpcServerOptions.ShutdownTimeout"/> or until <paramref name="cancellationToken"/>
    /// fires, then cancels the rest and closes every connection. Every wait is bounded: with
    /// handlers that ignore their token and clients that stopped reading it returns within
    /// <see cref="RpcServerOptions.ShutdownTimeout"/> + <see cref="HandlerAbortTimeout"/> + twice
    /// <see cref="CloseTimeout"/> (drain, then abort); a transport that hangs as well adds at most
    /// one <see cref="CloseTimeout"/> per step it hangs in (closing each listener, ending the
    /// accept loops, sending GOAWAY, resetting the calls). The embedded Kestrel, when there is one,
    /// adds at most three <see cref="CloseTimeout"/> (closing its connections, aborting them, disposing
    /// it). Once <paramref name="cancellationToken"/>
    /// fires it skips the waits left (cancels, closes and aborts at once). A listener that fails
    /// to close is logged, not thrown.
    /// </summary>
    public async Task ShutdownAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (_state == State.Stopped)
            {
                return;
            }

            _state = State.Stopped;
        }

        await DisposeListenersAsync().ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        // Accept loops end when the token fires; a listener that ignores it is not waited for past the bound.
        await Task.WhenAll(_acceptLoops).WaitAsync(CloseTimeout, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        // Sniffs end when the token fires; one that already chose a side has handed its connection on.
        await Task.WhenAll(_sniffing.Values).WaitAsync(CloseTimeout, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var gateway = await StoppingGatewayAsync(cancellationToken).ConfigureAwait(false);
        gateway?.BeginStop();

        var connections = _connections.Keys.ToList();
        await Task.WhenAll(connections.Select(c => c.SendGoAwayAsync().AsTask())).WaitAsync(CloseTimeout, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        var inFlight = Task.WhenAll(_environment.Calls.Select(c => c.Completion).Append(gateway?.CallsDrained ?? Task.CompletedTask));
        try
        {
            await inFlight.WaitAsync(_environment.Options.ShutdownTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            await Task.WhenAll(
                CancelCallsAsync(cancellationToken),
                gateway?.AbortCallsAsync(ShutdownStatus, HandlerAbortTimeout, cancellationToken) ?? Task.CompletedTask).ConfigureAwait(false);
        }

        await CloseConnectionsAsync(cancellationToken).ConfigureAwait(false);
        if (gateway is not null)
        {
            await gateway.StopAsync(CloseTimeout, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await gateway.DisposeAsync().AsTask().WaitAsync(CloseTimeout, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private static readonly Status ShutdownStatus = new(StatusCode.Unavailable, "The server shut down before the call finished.");

    /// <summary>The gateway, once any start in progress has finished (bounded); none is started after this.</summary>
    private async Task<IHttpGateway?> StoppingGatewayAsync(CancellationToken cancellationToken)
    {
        Task<IHttpGateway?>? starting;
        lock (_lock)
        {
            starting = _gateway;
        }

        if (starting is null)
        {
            return null;
        }

        try
        {
            return await starting.WaitAsync(CloseTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Ends the calls still running and waits, at most <see cref="HandlerAbortTimeout"/>, for their handlers to return.</summary>
    private async Task CancelCallsAsync(CancellationToken cancellationToken)
    {
        var remaining = _environment.Calls;
        ServerLog.ShutdownCancellingCalls(_environment.Logger, remaining.Count);
        try
        {
            await Task.WhenAll(remaining.Select(c => c.AbortAsync(ShutdownStatus))).WaitAsync(CloseTimeout, cancellationToken).ConfigureAwait(false);
            await Task.WhenAll(remaining.Select(c => c.Completion)).WaitAsync(HandlerAbortTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            ServerLog.ShutdownLeavingHandlers(_environment.Logger, _environment.Calls.Count);
        }
    }

    /// <summary>Closes every connection, aborting those that have not closed within <see cref="CloseTimeout"/>.</summary>
    private async Task CloseConnectionsAsync(CancellationToken cancellationToken)
    {
        foreach (var connection in _connections.Keys)
        {
            connection.Close();
        }

        try
        {
            await Task.WhenAll(_connections.Values).WaitAsync(CloseTimeout, cancellationToken).ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            ServerLog.ShutdownAbortingConnections(_environment.Logger, _connections.Count);
        }

        var aborted = new IOException("The server shut down and the connection did not close in time.");
        foreach (var connection in _connections.Keys)
        {
            connection.Abort(aborted);
        }

        // An aborted transport fails its pending reads and writes, so this ends soon; still bounded.
        await Task.WhenAll(_connections.Values).WaitAsync(CloseTimeout, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task DisposeListenersAsync()
    {
        foreach (var listener in _listeners)
        {
            try
            {
                await listener.DisposeAsync().AsTask().WaitAsync(CloseTimeout).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // One listener that fails to close must not keep the others open or stop the shutdown.
                ServerLog.ListenerCloseFailed(_environment.Logger, listener.Address.ToString(), ex);
            }
        }
    }

    /// <summary>
    /// Shuts the server down as <see cref="DisposeAsync"/> does, blocking the calling thread (for
    /// containers and callers that dispose synchronously); the same bounds apply.
    /// </summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Shuts down (see <see cref="ShutdownAsync"/>) if that has not happened yet.</summary>
    public async ValueTask DisposeAsync()
    {
        await ShutdownAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private void ThrowIfNotCreated()
    {
        if (_state != State.Created)
        {
            throw new InvalidOperationException("The server has already started.");
        }
    }
}

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
public sealed class RpcServer : IAsyncDisposable
{
    private readonly ServerCallEnvironment _environment;
    private readonly TransportRegistry _transports;
    private readonly List<TransportAddress> _addresses = [];
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

    /// <summary>The addresses the server listens on, as bound; filled in by <see cref="StartAsync"/>.</summary>
    public IReadOnlyList<string> BoundAddresses { get; private set; } = [];

    /// <summary>
    /// Serves <paramref name="service"/>, an instance of a class derived from a Grpc.Tools-generated
    /// <c>*Base</c> class. Call before <see cref="StartAsync"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The type is not a generated service.</exception>
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

    /// <summary>Adds an address to listen on, such as <c>unix:///run/calc.sock</c>. Call before <see cref="StartAsync"/>.</summary>
    /// <exception cref="ArgumentException">The address is malformed or no transport serves its scheme.</exception>
    public RpcServer Listen(string address)
    {
        var parsed = TransportAddress.Parse(address);
        _transports.Resolve(parsed);
        lock (_lock)
        {
            ThrowIfNotCreated();
            _addresses.Add(parsed);
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
            if (_addresses.Count == 0 && !_listenOnParentPipes)
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

            foreach (var address in _addresses)
            {
                var listener = await _transports.Resolve(address).BindAsync(address, new ListenOptions(), cancellationToken).ConfigureAwait(false);
                _listeners.Add(listener);
                ServerLog.Listening(_environment.Logger, listener.Address.ToString());
            }
        }
        catch
        {
            foreach (var listener in _listeners)
            {
                await listener.DisposeAsync().ConfigureAwait(false);
            }

            _listeners.Clear();
            throw;
        }

        BoundAddresses = [.. _listeners.Select(l => l.Address.ToString())];
        foreach (var listener in _listeners)
        {
            _acceptLoops.Add(AcceptLoopAsync(listener));
        }
    }

    private async Task AcceptLoopAsync(ITransportListener listener)
    {
        try
        {
            while (await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false) is { } transport)
            {
                var connection = new ServerConnection(_environment, transport);
                _connections[connection] = RunConnectionAsync(connection, fromParent: listener.Address.Scheme == "parent");
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // Shutting down.
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // One broken listener must not take the others, or shutdown, down with it.
            ServerLog.AcceptFailed(_environment.Logger, listener.Address.ToString(), ex);
        }
    }

    private async Task RunConnectionAsync(ServerConnection connection, bool fromParent)
    {
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        try
        {
            await connection.RunAsync(_stopping.Token).ConfigureAwait(false);
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
    /// fires, then cancels the rest and closes every connection.
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

        foreach (var listener in _listeners)
        {
            await listener.DisposeAsync().ConfigureAwait(false);
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);

        foreach (var connection in _connections.Keys)
        {
            await connection.SendGoAwayAsync().ConfigureAwait(false);
        }

        var inFlight = Task.WhenAll(_environment.Calls.Select(c => c.Completion));
        try
        {
            await inFlight.WaitAsync(_environment.Options.ShutdownTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            var remaining = _environment.Calls;
            ServerLog.ShutdownCancellingCalls(_environment.Logger, remaining.Count);
            var shutdown = new Status(StatusCode.Unavailable, "The server shut down before the call finished.");
            await Task.WhenAll(remaining.Select(c => c.AbortAsync(shutdown))).ConfigureAwait(false);
            await Task.WhenAll(remaining.Select(c => c.Completion)).ConfigureAwait(false);
        }

        foreach (var connection in _connections.Keys)
        {
            connection.Close();
        }

        await Task.WhenAll(_connections.Values).ConfigureAwait(false);
    }

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

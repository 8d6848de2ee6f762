using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Rpc.Client.Http;
using Rpc.Client.Internal;
using Rpc.Transports;
using Rpc.Transports.Pipes;

namespace Rpc.Client;

/// <summary>
/// A gRPC channel over an Rpc transport, or over standard gRPC (HTTP/2) to any gRPC server. Pass
/// it to any Grpc.Tools-generated client:
/// <c>new Calculator.CalculatorClient(RpcChannel.ForAddress("unix:///run/calc.sock"))</c>.
/// It connects on the first call and reconnects on a later call after the connection breaks.
/// </summary>
public sealed class RpcChannel : ChannelBase, IDisposable, IAsyncDisposable
{
    private static readonly TimeSpan ChildExitGrace = TimeSpan.FromSeconds(5);

    private readonly CallInvoker _invoker;
    private readonly IAsyncDisposable? _ownedTransport;
    private readonly ConnectionManager? _connections;
    private readonly HttpChannel? _http;

    private RpcChannel(TransportAddress address, ITransport transport, RpcChannelOptions options, Process? child = null)
        : base(address.ToString())
    {
        ChildProcess = child;
        _ownedTransport = child is null ? null : transport as IAsyncDisposable;
        Options = options;
        var logger = options.LoggerFactory?.CreateLogger<RpcChannel>() ?? (ILogger)NullLogger.Instance;
        _connections = new ConnectionManager(address, transport, options, logger);
        _invoker = new RpcCallInvoker(_connections, options);
    }

    private RpcChannel(string address, HttpAddress httpAddress, RpcChannelOptions options)
        : base(address)
    {
        Options = options;
        var logger = options.LoggerFactory?.CreateLogger<RpcChannel>() ?? (ILogger)NullLogger.Instance;
        _http = HttpChannel.Create(httpAddress, options, logger);
        _invoker = _http.Invoker;
    }

    internal RpcChannelOptions Options { get; }

    /// <summary>The child process this channel talks to, when made by <see cref="ForChildProcess"/>.</summary>
    public Process? ChildProcess { get; }

    /// <summary>The local connection's manager; only a channel on an Rpc transport has one.</summary>
    internal ConnectionManager Connections => _connections ?? throw new InvalidOperationException("A channel on an http(s) address has no Rpc connection of its own.");

    /// <summary>
    /// Creates a channel to <paramref name="address"/>. An Rpc address (<c>unix:///run/calc.sock</c>,
    /// <c>shm://calc</c>, ...) uses our own protocol; <c>http://host:port</c>, <c>https://host:port</c>
    /// and <c>http+unix:///path/to.sock</c> speak standard gRPC over HTTP/2 through Grpc.Net.Client
    /// to any gRPC server, moving later calls to a local transport when the server is an
    /// <c>RpcServer</c> on this host run by this user (<see cref="RpcChannelOptions.SameHostUpgrade"/>).
    /// Nothing is connected until the first call.
    /// </summary>
    /// <exception cref="ArgumentException">The address is malformed or no transport serves its scheme.</exception>
    public static RpcChannel ForAddress(string address, RpcChannelOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        options ??= new RpcChannelOptions();
        if (HttpAddress.IsHttp(address))
        {
            return new RpcChannel(address, HttpAddress.Parse(address), options);
        }

        var parsed = TransportAddress.Parse(address);
        var transport = (options.Transports ?? TransportRegistry.Default).Resolve(parsed);
        return new RpcChannel(parsed, transport, options);
    }

    /// <summary>
    /// Starts a child process and returns a channel to it over a pair of anonymous pipes. The child
    /// serves with <c>RpcServer.ListenOnParentPipes()</c>. When the child exits, calls fail with
    /// Unavailable; disposing the channel ends the child (it sees its pipes close, and is killed if
    /// it has not exited 5 s later).
    /// </summary>
    public static RpcChannel ForChildProcess(ProcessStartInfo startInfo, RpcChannelOptions? options = null)
    {
        var (child, transport) = AnonymousPipeTransport.StartChild(startInfo);
        return new RpcChannel(TransportAddress.Create("child", child.Id.ToString(CultureInfo.InvariantCulture)), transport, options ?? new RpcChannelOptions(), child);
    }

    /// <inheritdoc/>
    public override CallInvoker CreateCallInvoker() => _invoker;

    /// <summary>
    /// Where the channel's connection stands, as in grpc-dotnet's <c>GrpcChannel.State</c>: Idle
    /// (nothing connected yet, or the connection closed or the server sent GOAWAY), Connecting,
    /// Ready, TransientFailure (the last attempt failed; the next waits out the reconnect backoff),
    /// Shutdown (disposed). On <c>http(s)://</c> it is the underlying <c>GrpcChannel</c>'s state.
    /// See docs/channel.md.
    /// </summary>
    public ConnectivityState State => _http is not null ? _http.Grpc.State : _connections!.State;

    /// <summary>
    /// Connects now instead of at the first call, and completes once the channel is Ready; failed
    /// attempts are retried with the reconnect backoff for as long as <paramref name="cancellationToken"/>
    /// allows (bound it: against a server that never comes this waits until the token fires).
    /// </summary>
    /// <exception cref="OperationCanceledException">The token fired first.</exception>
    /// <exception cref="ObjectDisposedException">The channel has been disposed.</exception>
    public Task ConnectAsync(CancellationToken cancellationToken = default) =>
        _http is not null ? _http.Grpc.ConnectAsync(cancellationToken) : _connections!.ConnectAsync(cancellationToken);

    /// <summary>
    /// Completes when <see cref="State"/> differs from <paramref name="lastObservedState"/> (at once
    /// if it already does). It does not start a connection itself.
    /// </summary>
    /// <exception cref="OperationCanceledException">The token fired first.</exception>
    public Task WaitForStateChangedAsync(ConnectivityState lastObservedState, CancellationToken cancellationToken = default) =>
        _http is not null
            ? _http.Grpc.WaitForStateChangedAsync(lastObservedState, cancellationToken)
            : _connections!.WaitForStateChangedAsync(lastObservedState, cancellationToken);

    /// <summary>
    /// Closes the connection; calls still running fail with Unavailable. Returns within about twice
    /// <see cref="RpcChannelOptions.CloseTimeout"/> even when the peer has stopped reading (what it
    /// has not taken by then is dropped), plus, for <see cref="ForChildProcess"/>, the child's 5 s
    /// to exit before it is killed.
    /// </summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <inheritdoc cref="Dispose"/>
    public async ValueTask DisposeAsync()
    {
        if (_http is not null)
        {
            await _http.DisposeAsync().ConfigureAwait(false);
            return;
        }

        await _connections!.DisposeAsync().ConfigureAwait(false);
        if (_ownedTransport is not null)
        {
            await _ownedTransport.DisposeAsync().AsTask().WaitAsync(Options.CloseTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (ChildProcess is { } child)
        {
            await EndChildAsync(child).ConfigureAwait(false);
        }
    }

    private static async Task EndChildAsync(Process child)
    {
        using var grace = new CancellationTokenSource(ChildExitGrace);
        try
        {
            await child.WaitForExitAsync(grace.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            child.Kill(entireProcessTree: true);
            // A killed process is reaped at once unless the system is in trouble; do not hang on it then.
            using var reaped = new CancellationTokenSource(ChildExitGrace);
            await child.WaitForExitAsync(reaped.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <inheritdoc/>
    protected override Task ShutdownAsyncCore() => DisposeAsync().AsTask();
}

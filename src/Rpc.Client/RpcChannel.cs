using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Rpc.Client.Internal;
using Rpc.Transports;

namespace Rpc.Client;

/// <summary>
/// A gRPC channel over an Rpc transport. Pass it to any Grpc.Tools-generated client:
/// <c>new Calculator.CalculatorClient(RpcChannel.ForAddress("unix:///run/calc.sock"))</c>.
/// It connects on the first call and reconnects on a later call after the connection breaks.
/// </summary>
public sealed class RpcChannel : ChannelBase, IDisposable, IAsyncDisposable
{
    private readonly RpcCallInvoker _invoker;

    private RpcChannel(TransportAddress address, ITransport transport, RpcChannelOptions options)
        : base(address.ToString())
    {
        Options = options;
        var logger = options.LoggerFactory?.CreateLogger<RpcChannel>() ?? (ILogger)NullLogger.Instance;
        Connections = new ConnectionManager(address, transport, options, logger);
        _invoker = new RpcCallInvoker(this);
    }

    internal RpcChannelOptions Options { get; }

    internal ConnectionManager Connections { get; }

    /// <summary>
    /// Creates a channel to <paramref name="address"/>, for example <c>unix:///run/calc.sock</c>.
    /// Nothing is connected until the first call.
    /// </summary>
    /// <exception cref="ArgumentException">The address is malformed or no transport serves its scheme.</exception>
    public static RpcChannel ForAddress(string address, RpcChannelOptions? options = null)
    {
        options ??= new RpcChannelOptions();
        var parsed = TransportAddress.Parse(address);
        var transport = (options.Transports ?? TransportRegistry.Default).Resolve(parsed);
        return new RpcChannel(parsed, transport, options);
    }

    /// <inheritdoc/>
    public override CallInvoker CreateCallInvoker() => _invoker;

    /// <summary>Closes the connection; calls still running fail with Unavailable.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Closes the connection; calls still running fail with Unavailable.</summary>
    public ValueTask DisposeAsync() => Connections.DisposeAsync();

    /// <inheritdoc/>
    protected override Task ShutdownAsyncCore() => DisposeAsync().AsTask();
}

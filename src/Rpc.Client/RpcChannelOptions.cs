using Microsoft.Extensions.Logging;
using Rpc.Transports;

namespace Rpc.Client;

/// <summary>Settings of an <see cref="RpcChannel"/>. Defaults match grpc-dotnet's where it has one, except where a member says otherwise and why.</summary>
public sealed class RpcChannelOptions
{
    /// <summary>
    /// Largest message the client sends; larger fails the call with ResourceExhausted, naming the
    /// size and this limit. Default: 4 MiB, where grpc-dotnet sets no limit: a server's default
    /// receive limit is 4 MiB, so a larger request would fail there anyway, after crossing the
    /// wire; failing here says so sooner and more clearly.
    /// </summary>
    public int MaxSendMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>Largest message the client accepts; larger fails the call with ResourceExhausted. Default: 4 MiB.</summary>
    public int MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>How long opening a connection and its handshake may take. Default: 10 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Wait after a failed connection attempt before the next one; calls in between fail at once
    /// with Unavailable. It grows by 1.6× per failure up to <see cref="MaxReconnectBackoff"/>.
    /// A connection that breaks after working is retried on the next call without waiting.
    /// Default: 100 ms.
    /// </summary>
    public TimeSpan InitialReconnectBackoff { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Upper bound of the reconnect wait. Default: 5 s.</summary>
    public TimeSpan MaxReconnectBackoff { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long disposing the channel lets each connection send what it still has queued (a
    /// CANCEL, the end of a stream) before tearing it down; a peer that stopped reading cannot
    /// hold <see cref="RpcChannel.Dispose"/> longer than about twice this. grpc-dotnet has no such
    /// setting: HTTP/2 connections there close without draining. Default: 2 s.
    /// </summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Per-connection bounds of the Rpc protocol (windows, header size, buffered output, idle time); see <see cref="ConnectionLimits"/>.</summary>
    public ConnectionLimits Limits { get; } = new();

    /// <summary>Where the channel logs. Default: nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>The transports to resolve the address with. Default: <see cref="TransportRegistry.Default"/>.</summary>
    public TransportRegistry? Transports { get; set; }
}

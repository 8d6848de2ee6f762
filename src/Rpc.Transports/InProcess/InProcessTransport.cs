using System.Collections.Concurrent;
using System.IO.Pipelines;
using Rpc.Transports.Internal;

namespace Rpc.Transports.InProcess;

/// <summary>
/// <c>inproc://name</c>: a client and a server in the same process, joined by a pair of in-memory
/// pipes, with no socket and no system call. For tests, and for handing work between components
/// of one application that may later live in separate processes: the address is the only change.
/// </summary>
/// <remarks>
/// Listeners are found by name in this process only. The peer is this process, so the server
/// sees a local peer with this process's ids and no admission check applies.
/// </remarks>
public sealed class InProcessTransport : ITransport
{
    /// <summary>Bytes a side may have written and the other not read before its send loop waits.</summary>
    internal const int PipeCapacity = 1024 * 1024;

    private static readonly ConcurrentDictionary<string, InProcessListener> Listeners = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public IReadOnlyCollection<string> Schemes { get; } = ["inproc"];

    /// <inheritdoc/>
    public void Validate(TransportAddress address) => GetName(address);

    /// <inheritdoc/>
    public ValueTask<ITransportListener> BindAsync(TransportAddress address, ListenOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var name = GetName(address);
        InProcessListener? listener = null;
        listener = new InProcessListener(address, () => Listeners.TryRemove(new KeyValuePair<string, InProcessListener>(name, listener!)));
        if (!Listeners.TryAdd(name, listener))
        {
            throw new AddressInUseException($"'{address}' is already served in this process.");
        }

        return ValueTask.FromResult<ITransportListener>(listener);
    }

    /// <inheritdoc/>
    public async ValueTask<ITransportConnection> ConnectAsync(TransportAddress address, CancellationToken cancellationToken)
    {
        var name = GetName(address);
        if (!Listeners.TryGetValue(name, out var listener))
        {
            throw new ConnectionFailedException($"Could not connect to '{address}': nothing in this process listens there.");
        }

        var (client, server) = CreatePair(address);
        if (!await listener.OfferAsync(server, cancellationToken).ConfigureAwait(false))
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw new ConnectionFailedException($"Could not connect to '{address}': its listener was closed.");
        }

        return client;
    }

    private static (ITransportConnection Client, ITransportConnection Server) CreatePair(TransportAddress address)
    {
        // The writer pauses at the capacity: the send loop waits, and the protocol's output bound
        // (OutputHighWaterMark) holds writers back, as with a socket's kernel buffer.
        var options = new PipeOptions(pauseWriterThreshold: PipeCapacity, resumeWriterThreshold: PipeCapacity / 2, useSynchronizationContext: false);
        var toServer = new Pipe(options);
        var toClient = new Pipe(options);
        var identity = new PeerIdentity { ProcessId = Environment.ProcessId, UserId = LocalPeerPolicy.ServerUserId, GroupId = LocalPeerPolicy.ServerGroupId };
        var client = new InProcessConnection(toClient.Reader, toServer.Writer, address.ToString(), identity);
        var server = new InProcessConnection(toServer.Reader, toClient.Writer, "inproc:" + address.Target, identity);
        return (client, server);
    }

    private static string GetName(TransportAddress address)
    {
        var name = address.Target;
        if (address.Scheme != "inproc" || name.Length == 0 || name.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{address}' is not an in-process address: use inproc://name. {TransportRegistry.AcceptedForms}", nameof(address));
        }

        return name;
    }
}

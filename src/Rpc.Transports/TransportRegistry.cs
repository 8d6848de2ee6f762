using System.Collections.Concurrent;
using Rpc.Transports.MessageQueues;
using Rpc.Transports.Pipes;
using Rpc.Transports.SharedMemory;
using Rpc.Transports.Sockets;
using Rpc.Transports.Tcp;

namespace Rpc.Transports;

/// <summary>
/// Maps address schemes to transports. <see cref="Default"/> knows every built-in transport;
/// register another one to plug it in without touching the client or server.
/// </summary>
public sealed class TransportRegistry
{
    internal const string AcceptedForms =
        "Accepted forms: unix:///absolute/path, unix:relative/path, pipe://name, tcp://host:port, tcps://host:port, shm://name, mq://name, inproc://name.";

    private readonly ConcurrentDictionary<string, ITransport> _transports = new(StringComparer.Ordinal);

    /// <summary>The registry with the built-in transports, used when options name none.</summary>
    public static TransportRegistry Default { get; } = CreateDefault();

    /// <summary>Adds or replaces the transport for each of its schemes.</summary>
    public void Register(ITransport transport)
    {
        ArgumentNullException.ThrowIfNull(transport);
        foreach (var scheme in transport.Schemes)
        {
            _transports[scheme] = transport;
        }
    }

    /// <summary>Finds the transport for <paramref name="address"/>'s scheme and checks the address is well formed for it.</summary>
    /// <exception cref="ArgumentException">No transport serves that scheme, or the address is malformed.</exception>
    public ITransport Resolve(TransportAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var transport = _transports.TryGetValue(address.Scheme, out var found)
            ? found
            : throw new ArgumentException($"No transport serves the scheme '{address.Scheme}' in '{address}'. {AcceptedForms}", nameof(address));
        transport.Validate(address);
        return transport;
    }

    /// <summary>
    /// A new registry with every built-in transport at its default settings; register a transport
    /// configured otherwise (a TLS certificate, say) to replace the built-in one for its schemes.
    /// </summary>
    public static TransportRegistry CreateDefault()
    {
        var registry = new TransportRegistry();
        registry.Register(new UnixSocketTransport(new UnixSocketTransportOptions()));
        registry.Register(new NamedPipeTransport());
        registry.Register(new TcpTransport(new TcpTransportOptions()));
        registry.Register(new SharedMemoryTransport(new SharedMemoryTransportOptions()));
        registry.Register(new MessageQueueTransport(new MessageQueueTransportOptions()));
        registry.Register(new InProcess.InProcessTransport());
        return registry;
    }
}

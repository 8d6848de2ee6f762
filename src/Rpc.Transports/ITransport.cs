namespace Rpc.Transports;

/// <summary>
/// One way of carrying bytes between two processes. A transport binds listeners on the server side
/// and opens connections on the client side; the protocol above it does not know which one it has.
/// </summary>
public interface ITransport
{
    /// <summary>The address schemes this transport serves, for example <c>unix</c>.</summary>
    IReadOnlyCollection<string> Schemes { get; }

    /// <summary>Checks that <paramref name="address"/> is well formed for this transport, without touching the system.</summary>
    /// <exception cref="ArgumentException">It is not; the message names the accepted forms.</exception>
    void Validate(TransportAddress address);

    /// <summary>Starts listening on <paramref name="address"/> with the per-address <paramref name="options"/>.</summary>
    /// <exception cref="AddressInUseException">Another live listener owns the address.</exception>
    ValueTask<ITransportListener> BindAsync(TransportAddress address, ListenOptions options, CancellationToken cancellationToken);

    /// <summary>Opens a connection to a listener at <paramref name="address"/>.</summary>
    /// <exception cref="ConnectionFailedException">Nothing accepted the connection.</exception>
    ValueTask<ITransportConnection> ConnectAsync(TransportAddress address, CancellationToken cancellationToken);
}

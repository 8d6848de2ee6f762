using Grpc.Core;
using Rpc.Transports;

namespace Rpc.Server.Internal;

/// <summary>
/// The standard-gRPC side of a server (an embedded Kestrel), seen through types that load nothing
/// of ASP.NET: <see cref="RpcServer"/> holds it by this interface and creates it through
/// <see cref="HttpGatewayFactory"/>, so a server with only local addresses never loads Kestrel.
/// </summary>
internal interface IHttpGateway : IAsyncDisposable
{
    /// <summary>Starts Kestrel: binds the http(s) addresses and the sniffed-connection endpoint.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Each http(s) address as bound (the real port for port 0), in the order given.</summary>
    IReadOnlyList<string> BoundAddresses { get; }

    /// <summary>
    /// Hands over a connection accepted on a local listener whose first bytes are HTTP/2's client
    /// preface (still unread). False when the gateway is stopping or its queue is full: the caller
    /// then closes the connection.
    /// </summary>
    bool TryAdopt(ITransportConnection connection, TransportAddress listenerAddress);

    /// <summary>Stops accepting and tells HTTP/2 clients to go away (GOAWAY); calls in flight go on.</summary>
    void BeginStop();

    /// <summary>Completes when no HTTP call is running (a snapshot: calls that start later are not waited for).</summary>
    Task CallsDrained { get; }

    /// <summary>Ends the calls still running with <paramref name="status"/> and waits, at most <paramref name="timeout"/>, for their handlers.</summary>
    Task AbortCallsAsync(Status status, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>Closes the connections left, aborting those still open after <paramref name="timeout"/>.</summary>
    Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken);
}

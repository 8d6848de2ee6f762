using System.IO.Pipelines;

namespace Rpc.Transports;

/// <summary>
/// An ordered, reliable byte stream between two processes, exposed as a pair of pipes.
/// Completing <see cref="IDuplexPipe.Output"/> ends the stream gracefully; the peer's end shows as
/// a completed <see cref="IDuplexPipe.Input"/>. The output must buffer rather than make
/// <c>FlushAsync</c> wait: the protocol's flow control bounds what is queued.
/// </summary>
public interface ITransportConnection : IAsyncDisposable
{
    /// <summary>The pipes that read from and write to the peer.</summary>
    IDuplexPipe Transport { get; }

    /// <summary>A description of the peer, in the form gRPC's <c>ServerCallContext.Peer</c> uses.</summary>
    string Peer { get; }

    /// <summary>Who the peer is, as far as the transport knows; <see langword="null"/> when it knows nothing.</summary>
    PeerIdentity? PeerIdentity { get; }

    /// <summary>Tears the connection down at once, failing pending reads and writes.</summary>
    void Abort(Exception? reason = null);
}

namespace Rpc.Transports;

/// <summary>A bound endpoint that accepts connections until it is disposed.</summary>
public interface ITransportListener : IAsyncDisposable
{
    /// <summary>The address actually bound, which clients can connect to.</summary>
    TransportAddress Address { get; }

    /// <summary>Waits for the next connection; <see langword="null"/> once the listener is unbound.</summary>
    ValueTask<ITransportConnection?> AcceptAsync(CancellationToken cancellationToken = default);
}

using System.Threading.Channels;

namespace Rpc.Transports.InProcess;

/// <summary>
/// Connections offered by <see cref="InProcessTransport.ConnectAsync"/>, waiting to be accepted.
/// A connecting caller waits (bounded by its token) while <see cref="Backlog"/> are already waiting.
/// </summary>
internal sealed class InProcessListener : ITransportListener
{
    private const int Backlog = 64;

    private readonly Channel<ITransportConnection> _offered = Channel.CreateBounded<ITransportConnection>(
        new BoundedChannelOptions(Backlog) { FullMode = BoundedChannelFullMode.Wait });

    private readonly Func<bool> _unregister;

    public InProcessListener(TransportAddress address, Func<bool> unregister)
    {
        Address = address;
        _unregister = unregister;
    }

    public TransportAddress Address { get; }

    /// <summary>Hands a server end to the accept loop; false once the listener is closed.</summary>
    internal async ValueTask<bool> OfferAsync(ITransportConnection server, CancellationToken cancellationToken)
    {
        try
        {
            await _offered.Writer.WriteAsync(server, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ChannelClosedException)
        {
            await server.DisposeAsync().ConfigureAwait(false);
            return false;
        }
        catch (OperationCanceledException)
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask<ITransportConnection?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _offered.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _unregister();
        if (!_offered.Writer.TryComplete())
        {
            return;
        }

        // Offered but never accepted: their clients see the connection end.
        while (_offered.Reader.TryRead(out var unaccepted))
        {
            await unaccepted.DisposeAsync().ConfigureAwait(false);
        }
    }
}

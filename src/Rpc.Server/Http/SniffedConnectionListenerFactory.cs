using System.Net;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;

namespace Rpc.Server.Http;

/// <summary>The endpoint Kestrel "binds" to receive connections sniffed on our local listeners.</summary>
internal sealed class SniffedEndPoint : EndPoint
{
    public override string ToString() => "rpc-sniffed-connections";
}

/// <summary>
/// A Kestrel transport whose connections come from our own accept loops rather than a socket of
/// its own: the server's sniffer writes, Kestrel's accept loop reads.
/// </summary>
/// <remarks>
/// The queue is bounded (<see cref="QueueLimit"/>): when Kestrel falls that far behind, or before
/// it has bound, a further connection is refused (closed) rather than held.
/// </remarks>
internal sealed class SniffedConnectionListenerFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    public const int QueueLimit = 128;

    private readonly Channel<SniffedConnection> _queue = Channel.CreateBounded<SniffedConnection>(new BoundedChannelOptions(QueueLimit)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    public bool CanBind(EndPoint endpoint) => endpoint is SniffedEndPoint;

    /// <summary>Queues a connection for Kestrel; false when the queue is full or closed.</summary>
    public bool TryEnqueue(SniffedConnection connection) => _queue.Writer.TryWrite(connection);

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<IConnectionListener>(new Listener(this, endpoint));

    /// <summary>Refuses further connections and closes those still queued.</summary>
    public async ValueTask CloseAsync()
    {
        _queue.Writer.TryComplete();
        while (_queue.Reader.TryRead(out var queued))
        {
            await queued.DisposeAsync().ConfigureAwait(false);
        }
    }

    private sealed class Listener(SniffedConnectionListenerFactory factory, EndPoint endpoint) : IConnectionListener
    {
        public EndPoint EndPoint => endpoint;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                while (await factory._queue.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (factory._queue.Reader.TryRead(out var connection))
                    {
                        return connection;
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }

            return null;
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default) => factory.CloseAsync();

        public ValueTask DisposeAsync() => factory.CloseAsync();
    }
}

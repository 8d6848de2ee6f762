using System.Net.Sockets;

namespace Rpc.Transports.Sockets;

internal sealed class UnixSocketListener : ITransportListener
{
    private readonly Socket _socket;
    private readonly string _path;
    private readonly int _maxBufferSize;
    private int _disposed;

    public UnixSocketListener(Socket socket, TransportAddress address, string path, int maxBufferSize)
    {
        _socket = socket;
        _path = path;
        _maxBufferSize = maxBufferSize;
        Address = address;
    }

    public TransportAddress Address { get; }

    public async ValueTask<ITransportConnection?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        var accepted = await SocketAcceptor.AcceptAsync(_socket, () => Volatile.Read(ref _disposed) == 1, cancellationToken).ConfigureAwait(false);
        return accepted is null ? null : new SocketConnection(accepted, "unix:" + _path, _maxBufferSize);
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return ValueTask.CompletedTask;
        }

        _socket.Dispose();
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
            // Someone else removed or replaced it; either way it is no longer ours.
        }

        return ValueTask.CompletedTask;
    }
}

using System.Net.Sockets;
using Rpc.Transports.Sockets;

namespace Rpc.Transports.SharedMemory;

internal sealed class SharedMemoryListener : ITransportListener
{
    private readonly Socket _socket;
    private readonly string _name;
    private readonly string _path;
    private readonly SharedMemoryTransportOptions _options;
    private int _disposed;

    public SharedMemoryListener(Socket socket, TransportAddress address, string name, string path, SharedMemoryTransportOptions options)
    {
        _socket = socket;
        _name = name;
        _path = path;
        _options = options;
        Address = address;
    }

    public TransportAddress Address { get; }

    public async ValueTask<ITransportConnection?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var control = await SocketAcceptor.AcceptAsync(_socket, () => Volatile.Read(ref _disposed) == 1, cancellationToken).ConfigureAwait(false);
            if (control is null)
            {
                return null;
            }

            try
            {
                // Bounded, so a client that never answers holds up the next accept only briefly.
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(_options.HandshakeTimeout);
                var segment = await SharedMemoryHandshake.ServeAsync(control, _name, _options.RingCapacity, timeout.Token).ConfigureAwait(false);
                return new SharedMemoryConnection(control, segment, isServer: true, _options.SpinDuration, "shm:" + _name);
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
            {
                control.Dispose();
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _socket.Dispose();
            try
            {
                File.Delete(_path);
            }
            catch (IOException)
            {
                // Already gone.
            }
        }

        return ValueTask.CompletedTask;
    }
}

using System.Net.Sockets;
using Rpc.Transports.Internal;

namespace Rpc.Transports.Sockets;

/// <summary>A connected stream socket (Unix domain or TCP).</summary>
internal sealed class SocketConnection : TransportConnection
{
    private readonly Socket _socket;

    public SocketConnection(Socket socket, string peer, int maxBufferSize)
        : base(peer, maxBufferSize)
    {
        _socket = socket;
        Start();
    }

    protected override ValueTask<int> ReceiveAsync(Memory<byte> buffer) => _socket.ReceiveAsync(buffer, SocketFlags.None);

    protected override async ValueTask SendAsync(ReadOnlyMemory<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var sent = await _socket.SendAsync(buffer, SocketFlags.None).ConfigureAwait(false);
            buffer = buffer[sent..];
        }
    }

    protected override void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    protected override void CloseMedium()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Not connected any more; closing is all that is left.
        }

        _socket.Dispose();
    }

    protected override bool IsConnectionEnd(Exception ex) => ex is SocketException || base.IsConnectionEnd(ex);
}

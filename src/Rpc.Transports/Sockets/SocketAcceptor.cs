using System.Net.Sockets;

namespace Rpc.Transports.Sockets;

/// <summary>The accept step every socket-based listener shares.</summary>
internal static class SocketAcceptor
{
    /// <summary>
    /// The next accepted socket, or <see langword="null"/> once <paramref name="listening"/> is closed.
    /// A client that gave up before it was accepted is skipped.
    /// </summary>
    public static async ValueTask<Socket?> AcceptAsync(Socket listening, Func<bool> isUnbound, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                return await listening.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ObjectDisposedException || (ex is SocketException && isUnbound()))
            {
                return null;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
                // Gone before we got to it; wait for the next one.
            }
        }
    }
}

using System.Net;
using System.Net.Sockets;
using Rpc.Transports.Internal;

namespace Rpc.Transports.Tcp;

/// <summary>
/// Connects a TCP socket without the runtime's socket engine, on Linux: a non-blocking connect(2)
/// whose completion is awaited on <see cref="WritableWaiter"/>. A <c>Socket.ConnectAsync</c> that
/// does not complete at once (on TCP, nearly always) registers the socket with the runtime's epoll
/// thread for good, and every message that arrives afterwards also wakes that thread and a pool
/// worker (see <see cref="SocketSends"/>): server streaming over tcp:// measured 60–156k msgs/s so,
/// against 0.9–1.2M before the receive path stopped using the engine itself.
/// </summary>
internal static class TcpConnect
{
    /// <summary>
    /// A socket connected to <paramref name="host"/>:<paramref name="port"/>, trying each of its
    /// addresses in turn; Nagle is off. Throws the last address's <see cref="SocketException"/>.
    /// </summary>
    public static async ValueTask<(Socket Socket, IPEndPoint Peer)> ConnectAsync(string host, int port, bool viaRuntime, CancellationToken cancellationToken)
    {
        if (viaRuntime || !SocketSends.IsSupported)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
                return (socket, (IPEndPoint)socket.RemoteEndPoint!);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        var addresses = IPAddress.TryParse(host, out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        SocketException? last = null;
        foreach (var address in addresses)
        {
            var peer = new IPEndPoint(address, port);
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await ConnectOneAsync(socket, peer, cancellationToken).ConfigureAwait(false);
                return (socket, peer);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }

    private static async ValueTask ConnectOneAsync(Socket socket, IPEndPoint peer, CancellationToken cancellationToken)
    {
        socket.Blocking = false;
        try
        {
            socket.Connect(peer);
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
        {
            using var waiter = new WritableWaiter(socket.SafeHandle);
            // A cancel ends the wait; the caller then closes the socket, which abandons the connect.
            using (cancellationToken.UnsafeRegister(static state => ((WritableWaiter)state!).Dispose(), waiter))
            {
                await waiter.WaitAsync().ConfigureAwait(false);
            }

            cancellationToken.ThrowIfCancellationRequested();
            var error = (SocketError)(int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
            if (error != SocketError.Success)
            {
                throw new SocketException((int)error);
            }
        }

        socket.Blocking = true;
    }
}

using System.Net.Sockets;

namespace Rpc.Client.Http;

/// <summary>Makes the HTTP handler a channel on an http(s) address sends through when the caller gives none.</summary>
internal static class HttpHandlers
{
    public static SocketsHttpHandler Create(HttpAddress address, RpcChannelOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            // As grpc-dotnet advises: one connection's stream limit must not cap the channel's calls.
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = options.ConnectTimeout,
            // Idle gRPC connections stay up, as Grpc.Net.Client's own handler keeps them.
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        };
        if (options.ServerCertificateValidation is { } validate)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = validate;
        }

        if (address.SocketPath is { } path)
        {
            handler.ConnectCallback = (_, cancellationToken) => ConnectUnixAsync(path, cancellationToken);
        }

        return handler;
    }

    private static async ValueTask<Stream> ConnectUnixAsync(string path, CancellationToken cancellationToken)
    {
        // The handler's ConnectTimeout cancels this token, which bounds the connect.
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Rpc.Transports.MessageQueues;

/// <summary>
/// What the control socket carries, once, before the queues take over:
/// <list type="number">
/// <item>client → server: "RPCMQ001". The client speaks first, so a silent client costs the server
/// a socket and no queue.</item>
/// <item>server → client: "RPCMQ001", kind (u8), length (u32), then that many bytes of UTF-8. Kind 0:
/// the queues' common name. Kind 1: refused, and why.</item>
/// <item>client → server: one byte, once it has opened (and unlinked) both queues.</item>
/// </list>
/// </summary>
internal static class MqHandshake
{
    private const byte Opened = 1;
    private const byte KindQueues = 0;
    private const byte KindRefused = 1;
    private const int HeaderSize = 8 + 1 + 4;
    private const int MaxTextLength = 4096;
    private static ReadOnlySpan<byte> Magic => "RPCMQ001"u8;

    /// <summary>Server, after the client's hello: creates the queues, names them, and waits until the client holds them.</summary>
    public static async ValueTask<MqQueuePair> ServeAsync(Socket control, string name, MessageQueueTransportOptions options, CancellationToken cancellationToken)
    {
        MqQueuePair queues;
        try
        {
            queues = MqQueuePair.Create(name, options.MaxMessages, options.MessageSize);
        }
        catch (IOException ex)
        {
            // The client deserves the reason (a limit to raise) rather than a bare closed socket.
            await RefuseAsync(control, ex.Message, cancellationToken).ConfigureAwait(false);
            throw;
        }

        try
        {
            await SendAsync(control, KindQueues, queues.Name, cancellationToken).ConfigureAwait(false);
            var answer = new byte[1];
            await ReceiveExactlyAsync(control, answer, cancellationToken).ConfigureAwait(false);
            if (answer[0] != Opened)
            {
                throw new IOException("The client did not open the message queues.");
            }

            return queues;
        }
        catch
        {
            queues.Dispose();
            throw;
        }
        finally
        {
            // Opened by both sides or given up on: either way the names go now.
            MqQueuePair.Unlink(queues.Name);
        }
    }

    /// <summary>Server: tells the client why it is refused (after its hello, so the reply is not reset away).</summary>
    public static async ValueTask RefuseAsync(Socket control, string reason, CancellationToken cancellationToken)
    {
        await SendAsync(control, KindRefused, reason.Length > MaxTextLength / 4 ? reason[..(MaxTextLength / 4)] : reason, cancellationToken).ConfigureAwait(false);
        control.Shutdown(SocketShutdown.Send);
    }

    /// <summary>Client: says hello, opens the queues the server names (checking they are <paramref name="serverUserId"/>'s), and says so.</summary>
    public static async ValueTask<MqQueuePair> JoinAsync(Socket control, uint serverUserId, CancellationToken cancellationToken)
    {
        await control.SendAsync(Magic.ToArray(), SocketFlags.None, cancellationToken).ConfigureAwait(false);
        var header = new byte[HeaderSize];
        await ReceiveExactlyAsync(control, header, cancellationToken).ConfigureAwait(false);
        if (!header.AsSpan(0, 8).SequenceEqual(Magic))
        {
            throw new IOException("The peer is not a message-queue Rpc server (or speaks another version).");
        }

        var length = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(9));
        if (header[8] is not (KindQueues or KindRefused) || length is < 0 or > MaxTextLength)
        {
            throw new IOException($"The server sent an invalid reply (kind {header[8]}, length {length}).");
        }

        var text = new byte[length];
        await ReceiveExactlyAsync(control, text, cancellationToken).ConfigureAwait(false);
        var value = Encoding.UTF8.GetString(text);
        if (header[8] == KindRefused)
        {
            throw new IOException("The server refused the connection: " + value);
        }

        var queues = MqQueuePair.Open(value, serverUserId);
        try
        {
            await control.SendAsync(new[] { Opened }, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            return queues;
        }
        catch
        {
            queues.Dispose();
            throw;
        }
    }

    /// <summary>Server: waits for the client's hello, which comes before the server spends anything on it.</summary>
    public static async ValueTask ReceiveHelloAsync(Socket control, CancellationToken cancellationToken)
    {
        var hello = new byte[Magic.Length];
        await ReceiveExactlyAsync(control, hello, cancellationToken).ConfigureAwait(false);
        if (!hello.AsSpan().SequenceEqual(Magic))
        {
            throw new IOException("The client is not a message-queue Rpc client (or speaks another version).");
        }
    }

    private static async ValueTask SendAsync(Socket control, byte kind, string text, CancellationToken cancellationToken)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var message = new byte[HeaderSize + bytes.Length];
        Magic.CopyTo(message);
        message[8] = kind;
        BinaryPrimitives.WriteInt32BigEndian(message.AsSpan(9), bytes.Length);
        bytes.CopyTo(message, HeaderSize);
        await control.SendAsync(message, SocketFlags.None, cancellationToken).ConfigureAwait(false);
    }

    private static async ValueTask ReceiveExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (!buffer.IsEmpty)
        {
            var received = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (received == 0)
            {
                throw new IOException("The peer closed the control socket during the message-queue handshake.");
            }

            buffer = buffer[received..];
        }
    }
}

using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Rpc.Transports.SharedMemory;

/// <summary>
/// What the control socket carries once: the server names the segment it created
/// ("RPCSHM01", ring capacity u32, path length u16, path), the client answers one byte once it has
/// mapped it, and the server then unlinks the file.
/// </summary>
internal static class SharedMemoryHandshake
{
    private const byte Mapped = 1;
    private static ReadOnlySpan<byte> Magic => "RPCSHM01"u8;

    public static async ValueTask<SharedSegment> ServeAsync(Socket control, string name, int capacity, CancellationToken cancellationToken)
    {
        var segment = SharedSegment.Create(name, capacity);
        try
        {
            var path = Encoding.UTF8.GetBytes(segment.Path);
            var message = new byte[8 + 4 + 2 + path.Length];
            Magic.CopyTo(message);
            BinaryPrimitives.WriteInt32BigEndian(message.AsSpan(8), capacity);
            BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(12), (ushort)path.Length);
            path.CopyTo(message, 14);
            await control.SendAsync(message, SocketFlags.None, cancellationToken).ConfigureAwait(false);

            var answer = new byte[1];
            await ReceiveExactlyAsync(control, answer, cancellationToken).ConfigureAwait(false);
            if (answer[0] != Mapped)
            {
                throw new IOException("The client did not map the shared-memory segment.");
            }

            return segment;
        }
        catch
        {
            segment.Dispose();
            throw;
        }
        finally
        {
            segment.Unlink();
        }
    }

    public static async ValueTask<SharedSegment> JoinAsync(Socket control, CancellationToken cancellationToken)
    {
        var header = new byte[14];
        await ReceiveExactlyAsync(control, header, cancellationToken).ConfigureAwait(false);
        if (!header.AsSpan(0, 8).SequenceEqual(Magic))
        {
            throw new IOException("The peer is not a shared-memory Rpc server.");
        }

        var capacity = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(8));
        if (!RingLayout.IsValidCapacity(capacity))
        {
            throw new IOException($"The server announced an invalid ring capacity {capacity}.");
        }

        var path = new byte[BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(12))];
        await ReceiveExactlyAsync(control, path, cancellationToken).ConfigureAwait(false);
        var segment = SharedSegment.Open(Encoding.UTF8.GetString(path), capacity);
        segment.Unlink();
        try
        {
            await control.SendAsync(new[] { Mapped }, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            return segment;
        }
        catch
        {
            segment.Dispose();
            throw;
        }
    }

    private static async ValueTask ReceiveExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (!buffer.IsEmpty)
        {
            var received = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (received == 0)
            {
                throw new IOException("The peer closed the control socket during the shared-memory handshake.");
            }

            buffer = buffer[received..];
        }
    }
}

using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Rpc.Transports.SharedMemory;

/// <summary>
/// What the control socket carries, once, before the rings take over:
/// <list type="number">
/// <item>client → server: "RPCSHM02". The client speaks first, so a silent client costs the
/// server a socket and no segment.</item>
/// <item>server → client: "RPCSHM02", kind (u8), value (u32). Kind 0: the segment, value its ring
/// capacity, its descriptor attached (SCM_RIGHTS). Kind 1: refused, value the length of a UTF-8
/// reason that follows.</item>
/// <item>client → server: one byte, once it has checked and mapped the segment.</item>
/// </list>
/// </summary>
internal static class SharedMemoryHandshake
{
    private const byte Mapped = 1;
    private const byte KindSegment = 0;
    private const byte KindRefused = 1;
    private const int ReplySize = 8 + 1 + 4;
    private const int MaxReasonLength = 4096;
    private static ReadOnlySpan<byte> Magic => "RPCSHM02"u8;

    /// <summary>Server, after the client's hello (<see cref="ReceiveHelloAsync"/>): hands it a new segment.</summary>
    public static async ValueTask<SharedSegment> ServeAsync(Socket control, string name, int capacity, CancellationToken cancellationToken)
    {
        var segment = SharedSegment.Create(name, capacity);
        try
        {
            var reply = new byte[ReplySize];
            Magic.CopyTo(reply);
            reply[8] = KindSegment;
            BinaryPrimitives.WriteInt32BigEndian(reply.AsSpan(9), capacity);
            ShmNative.SendWithDescriptor(control.SafeHandle, reply, segment.Descriptor);
            // The descriptor in flight keeps the memory alive; the server needs only its mapping.
            segment.CloseDescriptor();

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
    }

    /// <summary>
    /// Server: tells the client why it is refused. Only after its hello (<see cref="ReceiveHelloAsync"/>),
    /// so that closing with the hello unread does not reset the reply away.
    /// </summary>
    public static async ValueTask RefuseAsync(Socket control, string reason, CancellationToken cancellationToken)
    {
        var text = Encoding.UTF8.GetBytes(reason.Length > MaxReasonLength / 4 ? reason[..(MaxReasonLength / 4)] : reason);
        var reply = new byte[ReplySize + text.Length];
        Magic.CopyTo(reply);
        reply[8] = KindRefused;
        BinaryPrimitives.WriteInt32BigEndian(reply.AsSpan(9), text.Length);
        text.CopyTo(reply, ReplySize);
        await control.SendAsync(reply, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        control.Shutdown(SocketShutdown.Send);
    }

    /// <summary>Client: says hello, receives the segment, checks it is <paramref name="serverUserId"/>'s and maps it.</summary>
    public static async ValueTask<SharedSegment> JoinAsync(Socket control, uint serverUserId, CancellationToken cancellationToken)
    {
        await control.SendAsync(Magic.ToArray(), SocketFlags.None, cancellationToken).ConfigureAwait(false);
        var reply = new byte[ReplySize];
        var descriptor = -1;
        try
        {
            var received = 0;
            while (received < ReplySize)
            {
                // Wait without consuming; recvmsg then takes the bytes and the descriptor that came with them.
                if (await control.ReceiveAsync(reply.AsMemory(received, 1), SocketFlags.Peek, cancellationToken).ConfigureAwait(false) == 0)
                {
                    throw new IOException("The server closed the control socket during the shared-memory handshake.");
                }

                var count = ShmNative.ReceiveWithDescriptor(control.SafeHandle, reply.AsSpan(received), out var passed);
                if (passed >= 0)
                {
                    if (descriptor >= 0)
                    {
                        ShmNative.CloseDescriptor(passed);
                        throw new IOException("The server passed more than one descriptor.");
                    }

                    descriptor = passed;
                }

                received += Math.Max(count, 0);
            }

            if (!reply.AsSpan(0, 8).SequenceEqual(Magic))
            {
                throw new IOException("The peer is not a shared-memory Rpc server (or speaks another version).");
            }

            var value = BinaryPrimitives.ReadInt32BigEndian(reply.AsSpan(9));
            if (reply[8] == KindRefused)
            {
                var reason = new byte[Math.Clamp(value, 0, MaxReasonLength)];
                await ReceiveExactlyAsync(control, reason, cancellationToken).ConfigureAwait(false);
                throw new IOException("The server refused the connection: " + Encoding.UTF8.GetString(reason));
            }

            if (reply[8] != KindSegment || !RingLayout.IsValidCapacity(value))
            {
                throw new IOException($"The server announced an invalid segment (kind {reply[8]}, ring capacity {value}).");
            }

            if (descriptor < 0)
            {
                throw new IOException("The server sent no shared-memory segment.");
            }

            var segment = SharedSegment.Open(descriptor, value, serverUserId);
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
        finally
        {
            // Mapped or not, the descriptor is no longer needed: the mapping keeps the memory.
            if (descriptor >= 0)
            {
                ShmNative.CloseDescriptor(descriptor);
            }
        }
    }

    /// <summary>Server: waits for the client's hello, which comes before the server spends anything on it.</summary>
    public static async ValueTask ReceiveHelloAsync(Socket control, CancellationToken cancellationToken)
    {
        var hello = new byte[Magic.Length];
        await ReceiveExactlyAsync(control, hello, cancellationToken).ConfigureAwait(false);
        if (!hello.AsSpan().SequenceEqual(Magic))
        {
            throw new IOException("The client is not a shared-memory Rpc client (or speaks another version).");
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

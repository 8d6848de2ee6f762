using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using Grpc.Core;
using Rpc.Tests.Faults;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;

namespace Rpc.Tests.Client;

/// <summary>
/// A Unix socket in front of a real server whose first connection plays a server going away: it
/// answers the handshake itself and, when the client's first call start arrives, sends GOAWAY with
/// last stream id 0, so that call is refused unseen, exactly as when a call crosses a shutting-down
/// server's GOAWAY on the wire. Every later connection is relayed byte for byte to the real server.
/// </summary>
/// <remarks>Threads: one accept loop; each connection's tasks own their sockets; counters are interlocked.</remarks>
internal sealed class GoAwayProxy : IAsyncDisposable
{
    private const int FrameHeaderSize = 10;
    private const byte HeadersType = 0x1;

    private readonly string _target;
    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private readonly Task _acceptLoop;
    private int _accepted;
    private int _refused;

    public GoAwayProxy(string targetPath)
    {
        _target = targetPath;
        Path = TestPaths.NewSocketPath();
        _listener.Bind(new UnixDomainSocketEndPoint(Path));
        _listener.Listen();
        _acceptLoop = AcceptAsync();
    }

    public string Path { get; }

    public string Address => "unix://" + Path;

    /// <summary>Call starts answered with GOAWAY.</summary>
    public int Refused => Volatile.Read(ref _refused);

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptAsync(_stop.Token);
                var task = Interlocked.Increment(ref _accepted) == 1 ? GoAwayOnFirstCallAsync(socket) : RelayAsync(socket);
                lock (_connections)
                {
                    _connections.Add(task);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private async Task GoAwayOnFirstCallAsync(Socket socket)
    {
        using var _ = socket;
        try
        {
            await socket.SendAsync(Frames.Handshake(), _stop.Token);
            var received = new ArrayBufferWriter<byte>();
            var skipped = Preface.Size;
            var buffer = new byte[4096];
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    return;
                }

                received.Write(buffer.AsSpan(0, read));
                // Walk whole frames after the preface, looking for the first call start.
                while (received.WrittenCount - skipped >= FrameHeaderSize)
                {
                    var header = received.WrittenSpan[skipped..];
                    var length = BinaryPrimitives.ReadUInt32BigEndian(header);
                    if (header[4] == HeadersType)
                    {
                        Interlocked.Increment(ref _refused);
                        await socket.SendAsync(Frames.Build(w => FrameWriter.WriteGoAway(w, 0, new Status(StatusCode.Unavailable, "The server is shutting down."))), _stop.Token);
                        // Held open, as a draining server holds it, until the client lets go.
                        while (await socket.ReceiveAsync(buffer, _stop.Token) > 0)
                        {
                        }

                        return;
                    }

                    if (received.WrittenCount - skipped < FrameHeaderSize + length)
                    {
                        break;
                    }

                    skipped += FrameHeaderSize + (int)length;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException)
        {
            // The client or the test ended it.
        }
    }

    private async Task RelayAsync(Socket client)
    {
        using var _ = client;
        using var server = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await server.ConnectAsync(new UnixDomainSocketEndPoint(_target), _stop.Token);
            await Task.WhenAny(CopyAsync(client, server), CopyAsync(server, client));
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException)
        {
            // The client, the server or the test ended it.
        }
    }

    private async Task CopyAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await from.ReceiveAsync(buffer, _stop.Token)) > 0)
            {
                await to.SendAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException)
        {
            // Either side went away.
        }
        finally
        {
            // Passes the end on, so each peer sees the other leave.
            try
            {
                to.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        Task[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }

        await Task.WhenAll(connections.Append(_acceptLoop)).DefaultTimeout();
        _stop.Dispose();
        File.Delete(Path);
    }
}

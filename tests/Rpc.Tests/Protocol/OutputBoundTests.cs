using System.Buffers;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;
using Rpc.Transports.Sockets;
using Xunit;

namespace Rpc.Tests.Protocol;

/// <summary>A peer that stops reading holds no more of this side's memory than the output high-water mark.</summary>
public sealed class OutputBoundTests
{
    private const long Mark = 256 * 1024;

    [Fact]
    public async Task SendAsync_PeerNeverReadsDespiteHugeWindow_WriterWaitsAtHighWaterMark()
    {
        using var sockets = await SocketPair.CreateAsync();
        await SendHandshakeAsync(sockets.Theirs);
        var connection = await StartAsync(sockets.Ours);
        var stream = connection.CreateStream();
        var message = new byte[64 * 1024];
        var sent = 0;

        // The peer granted 2 GiB; only the high-water mark can stop this writer.
        var sending = Task.Run(async () =>
        {
            await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout });
            for (var i = 0; i < 1024; i++)
            {
                await stream.SendAsync(OutgoingFrames.ForMessage(message));
                Interlocked.Increment(ref sent);
            }
        });
        await ConnectionPair.WaitUntil(() => connection.Backlog!.UnsentBytes > Mark || sending.IsCompleted, "the output backing up");
        await connection.DisposeAsync().DefaultTimeout();

        await Assert.ThrowsAnyAsync<Exception>(() => sending.DefaultTimeout());
        Assert.True(Volatile.Read(ref sent) < 1024, "The writer never waited.");
        Assert.InRange(connection.Backlog!.PeakUnsentBytes, Mark, Mark + message.Length + 1024);
    }

    [Fact]
    public async Task Ping_PeerPingsWithoutReading_ConnectionClosedAsAbusive()
    {
        using var sockets = await SocketPair.CreateAsync();
        await SendHandshakeAsync(sockets.Theirs);
        var connection = await StartAsync(sockets.Ours);
        var stream = connection.CreateStream();

        // Fill the output past its mark (the peer reads nothing), then ask for replies.
        var filling = Task.Run(async () =>
        {
            await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout });
            while (true)
            {
                await stream.SendAsync(OutgoingFrames.ForMessage(new byte[64 * 1024]));
            }
        });
        await ConnectionPair.WaitUntil(() => connection.Backlog!.IsAboveMark, "the output backing up");
        var pings = new ArrayBufferWriter<byte>();
        for (var i = 0; i < 10_000; i++)
        {
            FrameWriter.WritePing(pings, (ulong)i, ack: false);
        }

        var pinging = sockets.Theirs.SendAsync(pings.WrittenMemory, SocketFlags.None).AsTask();
        await connection.Closed.DefaultTimeout();
        await Assert.ThrowsAnyAsync<Exception>(() => filling.DefaultTimeout());
        await connection.DisposeAsync().DefaultTimeout();
        sockets.Theirs.Dispose();
        await Record.ExceptionAsync(() => pinging.DefaultTimeout());
    }

    private static async Task SendHandshakeAsync(Socket peer)
    {
        var handshake = new ArrayBufferWriter<byte>();
        Preface.Write(handshake);
        FrameWriter.WriteSettings(handshake, new ConnectionSettings { InitialWindowSize = int.MaxValue });
        await peer.SendAsync(handshake.WrittenMemory, SocketFlags.None).DefaultTimeout();
    }

    private static async Task<MultiplexedConnection> StartAsync(Socket socket)
    {
        var transport = new SocketConnection(socket, "unix:test", 1024 * 1024);
        var options = new ConnectionOptions { OutputHighWaterMark = Mark, MaxPendingControlReplies = 8, DrainTimeout = TimeSpan.FromMilliseconds(200) };
        var connection = new MultiplexedConnection(transport, options, acceptor: null, NullLogger.Instance);
        await connection.StartAsync(CancellationToken.None).DefaultTimeout();
        return connection;
    }
}

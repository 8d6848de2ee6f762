using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;
using Rpc.Transports.Sockets;
using Xunit;

namespace Rpc.Tests.Protocol;

/// <summary>Closing never waits on a peer beyond the drain bound: a peer that stops reading cannot hold a dispose.</summary>
public sealed class CloseTests
{
    private static readonly TimeSpan Drain = TimeSpan.FromMilliseconds(500);

    [Fact]
    public async Task TransportDisposeAsync_PeerNeverReads_FinishesAfterDrainTimeout()
    {
        using var sockets = await SocketPair.CreateAsync();
        var connection = new SocketConnection(sockets.Ours, "unix:test", 1024 * 1024) { DrainTimeout = Drain };
        var output = ((Rpc.Transports.ITransportConnection)connection).Transport.Output;

        // Far more than the kernel buffers; the peer reads none of it.
        for (var i = 0; i < 64; i++)
        {
            output.Write(new byte[256 * 1024]);
            await output.FlushAsync().DefaultTimeout();
        }

        var clock = Stopwatch.StartNew();
        await connection.DisposeAsync().DefaultTimeout();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"Dispose took {clock.Elapsed}.");
    }

    [Fact]
    public async Task DisposeAsync_PeerStopsReadingMidMessage_FinishesWithinDrainBound()
    {
        using var sockets = await SocketPair.CreateAsync();
        // The peer: a handshake, then silence; it never reads what we send.
        var handshake = new ArrayBufferWriter<byte>();
        Preface.Write(handshake);
        FrameWriter.WriteSettings(handshake, new ConnectionSettings { InitialWindowSize = int.MaxValue });
        await sockets.Theirs.SendAsync(handshake.WrittenMemory, SocketFlags.None).DefaultTimeout();

        var transport = new SocketConnection(sockets.Ours, "unix:test", 1024 * 1024);
        var connection = new MultiplexedConnection(transport, new ConnectionOptions { DrainTimeout = Drain }, acceptor: null, NullLogger.Instance);
        await connection.StartAsync(CancellationToken.None).DefaultTimeout();
        var stream = connection.CreateStream();
        // A 2 GiB window lets the writer go on until the output's high-water mark stops it.
        var sending = Task.Run(async () =>
        {
            for (var i = 0; i < 16; i++)
            {
                var frames = i == 0
                    ? new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout, Message = new byte[1024 * 1024], HasMessage = true }
                    : OutgoingFrames.ForMessage(new byte[1024 * 1024]);
                await stream.SendAsync(frames);
            }
        });
        await ConnectionPair.WaitUntil(() => connection.Backlog!.IsAboveMark, "the output backing up");

        var clock = Stopwatch.StartNew();
        await connection.DisposeAsync().DefaultTimeout();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"Dispose took {clock.Elapsed}.");
        Assert.Equal(ConnectionState.Closed, connection.State);
        var failure = await Assert.ThrowsAsync<StreamResetException>(() => stream.ReadMessageAsync(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, failure.Status.StatusCode);
        await Assert.ThrowsAnyAsync<Exception>(() => sending.DefaultTimeout());
    }
}

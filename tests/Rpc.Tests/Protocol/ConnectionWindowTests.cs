using Grpc.Core;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Protocol;

/// <summary>The connection-level window: what all streams together may leave unread (docs/protocol.md, "Flow control").</summary>
public sealed class ConnectionWindowTests
{
    private const int Window = ConnectionSettings.MinWindowSize;

    private static OutgoingFrames StartFrames => new() { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout };

    // Stream windows as large as the connection's: only the connection window can hold writers back.
    private static ConnectionOptions SmallWindows => new()
    {
        Settings = new ConnectionSettings { InitialWindowSize = Window, ConnectionWindowSize = Window, MaxFrameSize = ConnectionSettings.MinFrameSize },
    };

    [Fact]
    public async Task Messages_AcrossStreamsBeyondConnectionWindow_AreFlowControlErrorThatClosesConnection()
    {
        await using var pair = await ConnectionPair.StartAsync(SmallWindows);
        var first = pair.Client.CreateStream();
        var second = pair.Client.CreateStream();
        await first.SendAsync(StartFrames).DefaultTimeout();
        await second.SendAsync(StartFrames).DefaultTimeout();
        await pair.Calls.NextAsync();
        await pair.Calls.NextAsync();

        // A hostile sender keeps each stream inside its own window (48 KiB of 64 KiB) but ignores
        // the connection's: 96 KiB in all, none of it read.
        foreach (var stream in new[] { first, second })
        {
            for (var i = 0; i < 3; i++)
            {
                await pair.Client.WriteAsync(stream.Id, static (writer, id) => FrameWriter.WriteMessage(writer, id, new byte[ConnectionSettings.MinFrameSize], FrameFlags.EndMessage)).DefaultTimeout();
            }
        }

        await pair.Server.Closed.DefaultTimeout();
        var failure = await Assert.ThrowsAsync<StreamResetException>(() => first.ReadMessageAsync(CancellationToken.None).DefaultTimeout());
        Assert.Contains("connection window", failure.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Writers_BeyondConnectionWindow_WaitUntilTheReaderTakesMessages_ThenAllArriveIntact()
    {
        await using var pair = await ConnectionPair.StartAsync(SmallWindows);
        const int streams = 6;
        const int messageSize = 40 * 1024;
        var clients = new List<CallStream>();
        var servers = new List<CallStream>();
        for (var i = 0; i < streams; i++)
        {
            var stream = pair.Client.CreateStream();
            await stream.SendAsync(StartFrames).DefaultTimeout();
            clients.Add(stream);
            servers.Add(await pair.Calls.NextAsync());
        }

        var sends = clients.Select((stream, i) => stream.SendAsync(OutgoingFrames.ForMessage(Pattern(i, messageSize))).AsTask()).ToList();

        // 240 KiB against a 64 KiB connection window, nothing read yet: the writers run it dry and wait.
        await ConnectionPair.WaitUntil(() => pair.Client.Window.SendAvailable == 0, "the client spends the connection window");
        Assert.Contains(sends, send => !send.IsCompleted);
        Assert.True(pair.Server.Window.ReceiveAvailable >= 0);

        for (var i = 0; i < streams; i++)
        {
            var message = await servers[i].ReadMessageAsync(CancellationToken.None).DefaultTimeout();
            Assert.NotNull(message);
            Assert.Equal(Pattern(i, messageSize), message.Value.Buffer.AsSpan(0, message.Value.Length).ToArray());
            message.Value.Release();
        }

        await Task.WhenAll(sends).DefaultTimeout();
        Assert.Equal(ConnectionState.Open, pair.Server.State);
    }

    [Fact]
    public async Task StreamsReset_WithUnreadMessages_GiveTheirConnectionWindowBack()
    {
        await using var pair = await ConnectionPair.StartAsync(SmallWindows);
        for (var round = 0; round < 4; round++)
        {
            // Each round leaves three whole 16 KiB messages unread on a stream, then cancels it: four
            // rounds are three times the window, so a reset stream's bytes must come back or the last stalls.
            var stream = pair.Client.CreateStream();
            await stream.SendAsync(StartFrames).DefaultTimeout();
            var served = await pair.Calls.NextAsync();
            for (var i = 0; i < 3; i++)
            {
                await stream.SendAsync(OutgoingFrames.ForMessage(new byte[16 * 1024])).DefaultTimeout();
            }

            await ConnectionPair.WaitUntil(() => pair.Server.Window.ReceiveAvailable <= Window - (48 * 1024), "the server holds the unread message");

            await stream.ResetAsync(new Status(StatusCode.Cancelled, "test")).DefaultTimeout();
            await ConnectionPair.WaitUntil(() => served.IsClosed, "the server sees the CANCEL");
        }

        // Nothing is held: what is not yet given back is owed, below half a window.
        await ConnectionPair.WaitUntil(() => pair.Server.Window.ReceiveAvailable + pair.Server.Window.Owed == Window, "every byte is back");
        Assert.Equal(ConnectionState.Open, pair.Server.State);
    }

    [Fact]
    public async Task MessagesForAClosedStream_StillCountAgainstTheWindow_AndAreGivenBack()
    {
        await using var pair = await ConnectionPair.StartAsync(SmallWindows);
        var stream = pair.Client.CreateStream();
        await stream.SendAsync(StartFrames).DefaultTimeout();
        var served = await pair.Calls.NextAsync();
        await served.ResetAsync(new Status(StatusCode.Cancelled, "server gave up")).DefaultTimeout();

        // Frames the client wrote before it heard of the CANCEL: dropped, and their bytes freed.
        for (var i = 0; i < 8; i++)
        {
            await pair.Client.WriteAsync(stream.Id, static (writer, id) => FrameWriter.WriteMessage(writer, id, new byte[ConnectionSettings.MinFrameSize], FrameFlags.EndMessage)).DefaultTimeout();
        }

        var next = pair.Client.CreateStream();
        await next.SendAsync(StartFrames).DefaultTimeout();
        var nextServed = await pair.Calls.NextAsync();
        await next.SendAsync(OutgoingFrames.ForMessage(new byte[48 * 1024])).DefaultTimeout();
        var message = await nextServed.ReadMessageAsync(CancellationToken.None).DefaultTimeout();
        Assert.Equal(48 * 1024, message!.Value.Length);
        message.Value.Release();
        Assert.Equal(ConnectionState.Open, pair.Server.State);
    }

    private static byte[] Pattern(int seed, int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = (byte)((i * 31) + seed);
        }

        return bytes;
    }
}

using Grpc.Core;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Protocol;

/// <summary>Calls and connections meeting faults: closes under a starting call, read-loop failures, a peer ignoring flow control.</summary>
public sealed class ConnectionFaultTests
{
    private static OutgoingFrames StartFrames => new() { Method = "/s/m", TimeoutMicroseconds = Rpc.Transports.Protocol.CallStart.NoTimeout };

    [Fact]
    public async Task SendAsync_CallStartQueuedWhileConnectionCloses_FailsUnavailable()
    {
        await using var pair = await ConnectionPair.StartAsync();
        var release = new ManualResetEventSlim();
        var holding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // Hold the write lock so the call start and the close both queue behind it, start first.
        var holder = Task.Run(() => pair.Client.WriteAsync(0, (_, _) =>
        {
            holding.SetResult();
            release.Wait(Infrastructure.TaskExtensions.DefaultTimeoutSpan);
        }).AsTask());
        await holding.Task.DefaultTimeout();
        var stream = pair.Client.CreateStream();
        var starting = stream.SendAsync(StartFrames).AsTask();

        // The peer goes away: the client's read loop empties its stream table, then waits for the lock.
        pair.ServerTransport.Abort();
        await ConnectionPair.WaitUntil(() => pair.Client.StreamsClosed, "the client closing its stream table");
        release.Set();
        await holder.DefaultTimeout();

        // Whichever way the race went, the call ends Unavailable and its reader is not left waiting.
        var started = await Record.ExceptionAsync(() => starting.DefaultTimeout());
        var reading = await Assert.ThrowsAsync<StreamResetException>(() => stream.ReadMessageAsync(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, reading.Status.StatusCode);
        if (started is not null)
        {
            Assert.Equal(StatusCode.Unavailable, Assert.IsType<StreamResetException>(started).Status.StatusCode);
        }
    }

    [Fact]
    public void ReadCallStart_TimeoutBeyondTimeSpan_IsClampedToMaximum()
    {
        var writer = new System.Buffers.ArrayBufferWriter<byte>();
        FrameWriter.WriteCallStart(writer, 1, "/s/m", 1_000_000_000_000_000_000, null);
        var payload = new System.Buffers.ReadOnlySequence<byte>(writer.WrittenMemory[FrameHeader.Size..]);

        var start = PayloadCodec.ReadCallStart(payload);

        Assert.Equal(CallStart.MaxTimeoutMicroseconds, start.TimeoutMicroseconds);
        Assert.True(TimeSpan.FromMicroseconds(start.TimeoutMicroseconds) > TimeSpan.FromDays(365 * 1000));
    }

    [Fact]
    public async Task ReadLoop_UnexpectedException_ClosesWithGoAwayAndReleasesTransport()
    {
        await using var pair = await ConnectionPair.StartAsync(onCall: (_, _, _) => throw new InvalidCastException("a bug in the acceptor"));
        var stream = pair.Client.CreateStream();
        await stream.SendAsync(StartFrames).DefaultTimeout();

        await pair.Server.Closed.DefaultTimeout();
        var failure = await Assert.ThrowsAsync<StreamResetException>(() => stream.ReadMessageAsync(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, failure.Status.StatusCode);
        Assert.Contains("Internal error", failure.Status.Detail, StringComparison.Ordinal);

        await pair.Server.DisposeAsync().DefaultTimeout();
        Assert.True(pair.ServerTransport.IsReleased);
    }

    [Fact]
    public async Task Message_BeyondGrantedWindow_IsFlowControlErrorThatClosesConnection()
    {
        var options = new ConnectionOptions { Settings = new ConnectionSettings { InitialWindowSize = ConnectionSettings.MinWindowSize, MaxFrameSize = ConnectionSettings.MinFrameSize } };
        await using var pair = await ConnectionPair.StartAsync(options);
        var stream = pair.Client.CreateStream();
        await stream.SendAsync(StartFrames).DefaultTimeout();
        await pair.Calls.NextAsync();

        // A hostile sender ignores the window: five 16 KiB frames against 64 KiB, none read.
        for (var i = 0; i < 5; i++)
        {
            await pair.Client.WriteAsync(stream.Id, static (writer, id) => FrameWriter.WriteMessage(writer, id, new byte[ConnectionSettings.MinFrameSize], FrameFlags.EndMessage)).DefaultTimeout();
        }

        await pair.Server.Closed.DefaultTimeout();
        var failure = await Assert.ThrowsAsync<StreamResetException>(() => stream.ReadMessageAsync(CancellationToken.None).DefaultTimeout());
        Assert.Contains("Flow-control error", failure.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Message_HonestSenderManyWindows_NeverTripsFlowControl()
    {
        var options = new ConnectionOptions { Settings = new ConnectionSettings { InitialWindowSize = ConnectionSettings.MinWindowSize, MaxFrameSize = ConnectionSettings.MinFrameSize } };
        await using var pair = await ConnectionPair.StartAsync(options);
        var stream = pair.Client.CreateStream();
        await stream.SendAsync(StartFrames).DefaultTimeout();
        var serverStream = await pair.Calls.NextAsync();
        var sizes = new[] { 1, 70_000, 16_384, 0, 300_000, 5, 65_536, 200_000 };

        var sending = Task.Run(async () =>
        {
            for (var round = 0; round < 5; round++)
            {
                foreach (var size in sizes)
                {
                    await stream.SendAsync(OutgoingFrames.ForMessage(new byte[size]));
                }
            }
        });
        for (var i = 0; i < 5 * sizes.Length; i++)
        {
            var message = await serverStream.ReadMessageAsync(CancellationToken.None).DefaultTimeout();
            Assert.Equal(sizes[i % sizes.Length], message!.Value.Length);
            message.Value.Release();
        }

        await sending.DefaultTimeout();
        Assert.False(pair.Server.Closed.IsCompleted);
    }
}

using System.Buffers;
using Grpc.Core;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Protocol;

/// <summary>The concurrency limit: the server holds to it, the client queues beyond it instead of failing.</summary>
public sealed class StreamLimitTests
{
    private static readonly ConnectionOptions Limited = new() { Settings = new ConnectionSettings { MaxConcurrentStreams = 100 } };

    [Fact]
    public async Task SendAsync_TenThousandCallsAgainstHundredStreams_AllComplete()
    {
        var peak = 0;
        // Sampled where a call certainly holds its slot (the server accepting it): sampled on the
        // client after its send, the call could be not yet seen or already done, and under load
        // every one of the 10,000 samples once read 0.
        await using var pair = await ConnectionPair.StartAsync(new ConnectionOptions(), Limited, onCall: (server, stream, start) =>
        {
            InterlockedMax(ref peak, server.SlotsInUse);
            _ = EchoAsync(stream);
        });

        var calls = Enumerable.Range(0, 10_000).Select(i => Task.Run(async () =>
        {
            var stream = pair.Client.CreateStream();
            await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout, Message = BitConverter.GetBytes(i), HasMessage = true, EndStream = true });
            var reply = await stream.ReadMessageAsync(CancellationToken.None);
            Assert.Equal(i, BitConverter.ToInt32(reply!.Value.Payload.FirstSpan));
            reply.Value.Release();
            Assert.Null(await stream.ReadMessageAsync(CancellationToken.None));
            Assert.Equal(StatusCode.OK, stream.Trailers!.Value.Status.StatusCode);
        })).ToArray();

        await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.InRange(peak, 1, 100);
        Assert.Equal(0, pair.Client.SlotsInUse);
    }

    [Fact]
    public async Task SendAsync_CallQueuedForSlot_TokenEndsTheWait()
    {
        await using var pair = await ConnectionPair.StartAsync(new ConnectionOptions(), new ConnectionOptions { Settings = new ConnectionSettings { MaxConcurrentStreams = 1 } });
        var first = pair.Client.CreateStream();
        await first.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout }).DefaultTimeout();

        using var deadline = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var second = pair.Client.CreateStream();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout }, deadline.Token).DefaultTimeout());
        Assert.True(second.IsClosed);
        Assert.Equal(0u, second.Id);

        // The queued call never took the slot: once the first ends, a third gets it.
        await first.ResetAsync(new Status(StatusCode.Cancelled, "done")).DefaultTimeout();
        var third = pair.Client.CreateStream();
        await third.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout }).DefaultTimeout();
        Assert.NotEqual(0u, third.Id);
    }

    [Fact]
    public async Task ReleaseSlot_AcceptorHoldsSlotsUntilHandlerDone_CancelledStreamStillCounts()
    {
        var acceptor = new HoldingAcceptor();
        await using var pair = await ConnectionPair.StartAsync(new ConnectionOptions(), new ConnectionOptions { Settings = new ConnectionSettings { MaxConcurrentStreams = 1 } }, acceptor: acceptor);
        var first = pair.Client.CreateStream();
        await first.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout }).DefaultTimeout();
        var serverStream = await acceptor.Streams.Reader.ReadAsync().AsTask().DefaultTimeout();

        // The client cancels; the server's handler has not finished, so the slot stays taken.
        await first.ResetAsync(new Status(StatusCode.Cancelled, "bye")).DefaultTimeout();
        await ConnectionPair.WaitUntil(() => serverStream.IsClosed, "the CANCEL reaching the server");
        Assert.Equal(1, pair.Server.SlotsInUse);

        serverStream.ReleaseSlot();
        serverStream.ReleaseSlot();
        Assert.Equal(0, pair.Server.SlotsInUse);
    }

    private static async Task EchoAsync(CallStream stream)
    {
        await Task.Yield();
        var request = await stream.ReadMessageAsync(CancellationToken.None);
        var copy = request!.Value.Payload.ToArray();
        request.Value.Release();
        await stream.SendAsync(new OutgoingFrames { Message = copy, HasMessage = true, TrailersStatus = Status.DefaultSuccess });
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current && Interlocked.CompareExchange(ref target, value, current) != current)
        {
            current = Volatile.Read(ref target);
        }
    }

    private sealed class HoldingAcceptor : ICallAcceptor
    {
        public System.Threading.Channels.Channel<CallStream> Streams { get; } = System.Threading.Channels.Channel.CreateUnbounded<CallStream>();

        public bool ReleasesSlots => true;

        public void OnCallStarted(MultiplexedConnection connection, CallStream stream, CallStart start) => Streams.Writer.TryWrite(stream);

        public string? FindKnownPath(ReadOnlySpan<char> path) => null;
    }
}

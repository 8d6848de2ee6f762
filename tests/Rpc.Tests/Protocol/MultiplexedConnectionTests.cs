using System.Buffers;
using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Protocol;

public sealed class MultiplexedConnectionTests : IAsyncLifetime
{
    private readonly StreamCollector _server = new();
    private MultiplexedConnection _clientConnection = null!;
    private MultiplexedConnection _serverConnection = null!;

    public async Task InitializeAsync()
    {
        var (client, server) = InMemoryConnection.CreatePair();
        var options = new ConnectionOptions
        {
            MaxReceiveMessageSize = 8 * 1024 * 1024,
            Settings = new ConnectionSettings { InitialWindowSize = ConnectionSettings.MinWindowSize, MaxFrameSize = ConnectionSettings.MinFrameSize },
        };
        _clientConnection = new MultiplexedConnection(client, options, acceptor: null, NullLogger.Instance);
        _serverConnection = new MultiplexedConnection(server, options, _server, NullLogger.Instance);
        await Task.WhenAll(_clientConnection.StartAsync(CancellationToken.None), _serverConnection.StartAsync(CancellationToken.None)).DefaultTimeout();
    }

    public async Task DisposeAsync()
    {
        await _clientConnection.DisposeAsync();
        await _serverConnection.DisposeAsync();
    }

    [Fact]
    public async Task LargeMessage_OverSmallWindow_ArrivesIntactInFragments()
    {
        var message = RandomBytes(3 * 1024 * 1024 + 17, seed: 1);
        var stream = _clientConnection.CreateStream();
        await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = -1, Message = message, HasMessage = true, EndStream = true }).DefaultTimeout();

        var serverStream = await _server.NextAsync();
        var received = await serverStream.ReadMessageAsync(CancellationToken.None).DefaultTimeout();
        Assert.Equal(message, received!.Value.Payload.ToArray());
        Assert.Null(await serverStream.ReadMessageAsync(CancellationToken.None).DefaultTimeout());
    }

    [Fact]
    public async Task ManyMessages_BothDirections_EveryByteChecked()
    {
        var stream = _clientConnection.CreateStream();
        await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = -1 }).DefaultTimeout();
        var serverStream = await _server.NextAsync();
        var random = new Random(7);
        var sizes = Enumerable.Range(0, 200).Select(_ => random.Next(0, 100_000)).ToArray();

        var sending = Task.Run(async () =>
        {
            for (var i = 0; i < sizes.Length; i++)
            {
                await stream.SendAsync(OutgoingFrames.ForMessage(RandomBytes(sizes[i], i)));
            }

            await stream.SendAsync(new OutgoingFrames { EndStream = true });
        });
        var echoing = Task.Run(async () =>
        {
            while (await serverStream.ReadMessageAsync(CancellationToken.None) is { } message)
            {
                var copy = message.Payload.ToArray();
                message.Release();
                await serverStream.SendAsync(OutgoingFrames.ForMessage(copy));
            }

            await serverStream.SendAsync(new OutgoingFrames { TrailersStatus = Status.DefaultSuccess });
        });

        for (var i = 0; i < sizes.Length; i++)
        {
            var echoed = await stream.ReadMessageAsync(CancellationToken.None).DefaultTimeout();
            Assert.Equal(RandomBytes(sizes[i], i), echoed!.Value.Payload.ToArray());
            echoed.Value.Release();
        }

        Assert.Null(await stream.ReadMessageAsync(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.OK, stream.Trailers!.Value.Status.StatusCode);
        await Task.WhenAll(sending, echoing).DefaultTimeout();
    }

    [Fact]
    public async Task SlowReader_SenderWaitsForWindow_ThenCompletes()
    {
        var stream = _clientConnection.CreateStream();
        await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = -1 }).DefaultTimeout();
        var serverStream = await _server.NextAsync();

        // Four windows' worth of small messages cannot all be in flight while nobody reads.
        const int count = 4 * 64;
        var sending = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
            {
                await stream.SendAsync(OutgoingFrames.ForMessage(new byte[1024]));
            }
        });
        await Task.Delay(200);
        Assert.False(sending.IsCompleted, "The sender ran past the receiver's window.");

        for (var i = 0; i < count; i++)
        {
            var message = await serverStream.ReadMessageAsync(CancellationToken.None).DefaultTimeout();
            message!.Value.Release();
        }

        await sending.DefaultTimeout();
    }

    [Fact]
    public async Task Cancel_FromClient_ResetsServerStreamWithStatus()
    {
        var stream = _clientConnection.CreateStream();
        await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = -1 }).DefaultTimeout();
        var serverStream = await _server.NextAsync();
        await stream.ResetAsync(new Status(StatusCode.Cancelled, "bye")).DefaultTimeout();
        var ex = await Assert.ThrowsAsync<StreamResetException>(() => serverStream.ReadMessageAsync(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.Cancelled, ex.Status.StatusCode);
    }

    [Fact]
    public async Task FramesCrossingALocalReset_AreDropped_ConnectionStaysUp()
    {
        var stream = _clientConnection.CreateStream();
        await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = -1 }).DefaultTimeout();
        await _server.NextAsync();
        await stream.ResetAsync(new Status(StatusCode.Cancelled, "bye")).DefaultTimeout();

        // What the server sent before our CANCEL reached it arrives after the reset; the read loop
        // may still have found the stream in the table a moment before the reset removed it.
        await stream.OnMessageFragmentAsync(new ReadOnlySequence<byte>(new byte[3]), FrameFlags.EndMessage | FrameFlags.EndStream);
        stream.OnResponseHeaders(new Metadata());

        await _clientConnection.PingAsync(CancellationToken.None).DefaultTimeout();
        Assert.True(_clientConnection.AcceptsNewCalls);
        Assert.Equal(StatusCode.Cancelled, stream.ResetStatus?.StatusCode);
    }

    [Fact]
    public async Task Ping_IsAnswered()
    {
        await _clientConnection.PingAsync(CancellationToken.None).DefaultTimeout();
        await _serverConnection.PingAsync(CancellationToken.None).DefaultTimeout();
    }

    [Fact]
    public async Task GoAway_ConnectionTakesNoNewCalls_OpenStreamsBelowLastIdGoOn()
    {
        var first = _clientConnection.CreateStream();
        await first.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = -1 }).DefaultTimeout();
        await _server.NextAsync();
        await _serverConnection.TrySendGoAwayAsync(new Status(StatusCode.Unavailable, "bye")).DefaultTimeout();
        await _clientConnection.PingAsync(CancellationToken.None).DefaultTimeout();
        Assert.False(_clientConnection.AcceptsNewCalls);
        Assert.False(first.IsClosed);
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private sealed class StreamCollector : ICallAcceptor
    {
        private readonly BlockingCollection<CallStream> _streams = [];

        public void OnCallStarted(MultiplexedConnection connection, CallStream stream, CallStart start) => _streams.Add(stream);

        public string? FindKnownPath(ReadOnlySpan<char> path) => null;

        public Task<CallStream> NextAsync() => Task.Run(() => _streams.Take()).DefaultTimeout();
    }
}

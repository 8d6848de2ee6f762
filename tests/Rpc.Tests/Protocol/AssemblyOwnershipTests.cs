using System.Buffers;
using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Protocol;

/// <summary>
/// The assembly of a message that spans frames belongs to the read loop: a reset on any other
/// thread must neither return it nor let the read loop write into a returned array.
/// </summary>
public sealed class AssemblyOwnershipTests : IAsyncLifetime
{
    private readonly CheckingArrayPool _pool = new();
    private readonly Acceptor _server = new();
    private MultiplexedConnection _client = null!;
    private MultiplexedConnection _serverConnection = null!;

    public async Task InitializeAsync()
    {
        var (client, server) = InMemoryConnection.CreatePair();
        var options = new ConnectionOptions
        {
            AssemblyPool = _pool,
            Settings = new ConnectionSettings { MaxFrameSize = ConnectionSettings.MinFrameSize },
        };
        _client = new MultiplexedConnection(client, options, acceptor: null, NullLogger.Instance);
        _serverConnection = new MultiplexedConnection(server, options, _server, NullLogger.Instance);
        await Task.WhenAll(_client.StartAsync(CancellationToken.None), _serverConnection.StartAsync(CancellationToken.None)).DefaultTimeout();
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync().DefaultTimeout();
        await _serverConnection.DisposeAsync().DefaultTimeout();
    }

    [Fact]
    public async Task ResetAsync_FromAnotherThreadDuringAssembly_LeavesAssemblyToReadLoop()
    {
        var stream = _client.CreateStream();
        await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = -1 }).DefaultTimeout();

        // The test plays the read loop for this stream: the server never writes to it.
        await stream.OnMessageFragmentAsync(new ReadOnlySequence<byte>(new byte[1000]), FrameFlags.None).DefaultTimeout();
        Assert.Equal(1, _pool.Outstanding);

        await Task.Run(() => stream.ResetAsync(new Status(StatusCode.DeadlineExceeded, "deadline")).AsTask()).DefaultTimeout();
        Assert.Equal(0, _pool.Returns);

        // The next fragment the read loop finds for it frees the assembly, once.
        await stream.OnMessageFragmentAsync(new ReadOnlySequence<byte>(new byte[1000]), FrameFlags.None).DefaultTimeout();
        await stream.OnMessageFragmentAsync(new ReadOnlySequence<byte>(new byte[10]), FrameFlags.EndMessage).DefaultTimeout();
        Assert.Equal(0, _pool.Outstanding);
        Assert.Equal(0, _pool.BadReturns);
    }

    [Fact]
    public async Task ResetAsync_StreamLeavesReadLoopHands_SweepFreesAssemblyOnNextTurn()
    {
        var stream = _client.CreateStream();
        await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = -1 }).DefaultTimeout();
        var serverStream = await _server.NextAsync();

        // The first part of a message that spans frames, and no more: the client's read loop assembles it.
        await _serverConnection.WriteAsync(serverStream.Id, static (writer, id) => FrameWriter.WriteMessage(writer, id, new byte[1000], FrameFlags.None)).DefaultTimeout();
        await WaitUntil(() => _pool.Outstanding == 1);

        await Task.Run(() => stream.ResetAsync(new Status(StatusCode.Cancelled, "bye")).AsTask()).DefaultTimeout();
        Assert.Equal(0, _pool.Returns);

        // Any later turn of the read loop frees it.
        await _client.PingAsync(CancellationToken.None).DefaultTimeout();
        await WaitUntil(() => _pool.Outstanding == 0);
        Assert.Equal(0, _pool.BadReturns);
    }

    [Fact]
    public async Task ResetAsync_RacingMultiFrameArrival_NoDoubleReturnAndConnectionStaysUp()
    {
        const int iterations = 300;
        var message = new byte[5 * ConnectionSettings.MinFrameSize + 7];
        // Open throughout: if the connection dies, its status says why.
        var witness = _client.CreateStream();
        await witness.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = -1 }).DefaultTimeout();
        await _server.NextAsync();
        for (var i = 0; i < iterations; i++)
        {
            var stream = _client.CreateStream();
            await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = -1 }).DefaultTimeout();
            var serverStream = await _server.NextAsync();
            var sending = Task.Run(async () =>
            {
                try
                {
                    await serverStream.SendAsync(OutgoingFrames.ForMessage(message));
                    await serverStream.SendAsync(OutgoingFrames.ForMessage(message));
                }
                catch (StreamResetException)
                {
                    // The client's CANCEL got there first.
                }
            });
            var resetting = Task.Run(async () =>
            {
                // Vary where in the message's arrival the reset lands.
                for (var spin = 0; spin < i % 50; spin++)
                {
                    await Task.Yield();
                }

                await stream.ResetAsync(new Status(StatusCode.Cancelled, "raced"));
            });
            await Task.WhenAll(sending, resetting).DefaultTimeout();
            Assert.True(_client.AcceptsNewCalls, $"Iteration {i}: the connection died: {witness.ResetStatus?.Detail}");
            await serverStream.ResetAsync(new Status(StatusCode.Cancelled, "done")).DefaultTimeout();
        }

        await _client.PingAsync(CancellationToken.None).DefaultTimeout();
        Assert.True(_client.AcceptsNewCalls, "The client's read loop died.");
        Assert.Equal(0, _pool.BadReturns);
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Infrastructure.TaskExtensions.DefaultTimeoutSpan;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition never held.");
            await Task.Delay(5);
        }
    }

    private sealed class Acceptor : ICallAcceptor
    {
        private readonly BlockingCollection<CallStream> _streams = [];

        public void OnCallStarted(MultiplexedConnection connection, CallStream stream, CallStart start) => _streams.Add(stream);

        public string? FindKnownPath(ReadOnlySpan<char> path) => null;

        public Task<CallStream> NextAsync() => Task.Run(() => _streams.Take()).DefaultTimeout();
    }
}

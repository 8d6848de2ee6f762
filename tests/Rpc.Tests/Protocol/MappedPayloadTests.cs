using System.Buffers;
using System.Runtime.InteropServices;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Messages;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Protocol;

/// <summary>
/// Large messages through mapped regions (docs/mapped-payloads.md), over an in-memory medium that
/// passes descriptors as unix:// and shm:// do: the protocol's half, checked byte for byte.
/// </summary>
public sealed class MappedPayloadTests : IAsyncLifetime
{
    private const int Threshold = 64 * 1024;
    private const int OutgoingRegionsMax = Rpc.Transports.Protocol.Mapping.OutgoingRegions.MaxRegions;
    private readonly ConnectionPair.Acceptor _calls = new(null);
    private MultiplexedConnection _client = null!;
    private DescriptorPassingConnection _clientTransport = null!;
    private MultiplexedConnection _server = null!;

    public Task InitializeAsync() => StartAsync(new ConnectionOptions { MaxReceiveMessageSize = 64 * 1024 * 1024 });

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync().AsTask().DefaultTimeout();
        await _server.DisposeAsync().AsTask().DefaultTimeout();
    }

    [Fact]
    public async Task LargeRequestAndResponse_TravelThroughRegions_ArriveIntact()
    {
        var request = RandomBytes(1024 * 1024 + 3, seed: 1);
        var response = RandomBytes(3 * 1024 * 1024, seed: 2);
        var (stream, serverStream) = await StartCallAsync(request);

        var received = await serverStream.ReadMessageAsync(CancellationToken.None).DefaultTimeout();
        Assert.Equal(request, received!.Value.Payload.ToArray());
        Assert.Equal(0, received.Value.FlowControlledLength);
        received.Value.Release();
        await serverStream.SendAsync(new OutgoingFrames { SendHeaders = true, Message = response, HasMessage = true, TrailersStatus = Status.DefaultSuccess }).DefaultTimeout();

        var answer = await stream.ReadMessageAsync(CancellationToken.None).DefaultTimeout();
        Assert.Equal(response, answer!.Value.Payload.ToArray());
        answer.Value.Release();
        Assert.Null(await stream.ReadMessageAsync(CancellationToken.None).DefaultTimeout());
        Assert.Equal(2 * 1024 * 1024, _client.OutgoingRegions!.TotalBytes);
        Assert.Equal(4 * 1024 * 1024, _server.OutgoingRegions!.TotalBytes);
        await ConnectionPair.WaitUntil(() => _client.OutgoingRegions.InUseCount == 0 && _server.OutgoingRegions.InUseCount == 0, "both regions released");
    }

    [Fact]
    public async Task PeerReleasesWhileTheWriterIsStillInItsFlush_ConnectionGoesOn()
    {
        var (stream, serverStream) = await StartCallAsync(message: null);
        var first = RandomBytes(300_000, seed: 7);
        // The peer parses and releases the region while this side's writer has not returned from
        // its flush: what happens when the send runs on the writer's own thread and the peer is quick.
        _clientTransport.AfterFlush = async () =>
        {
            _clientTransport.AfterFlush = null;
            var received = await serverStream.ReadMessageAsync(CancellationToken.None).DefaultTimeout();
            Assert.Equal(first, received!.Value.Payload.ToArray());
            received.Value.Release();
            await ConnectionPair.WaitUntil(() => _client.OutgoingRegions!.InUseCount == 0, "the release read while the writer flushes");
        };

        await stream.SendAsync(OutgoingFrames.ForMessage(first)).DefaultTimeout();

        var second = RandomBytes(300_000, seed: 8);
        await stream.SendAsync(OutgoingFrames.ForMessage(second)).DefaultTimeout();
        var again = await serverStream.ReadMessageAsync(CancellationToken.None).DefaultTimeout();
        Assert.Equal(second, again!.Value.Payload.ToArray());
        again.Value.Release();
        Assert.False(_client.Closed.IsCompleted);
    }

    [Fact]
    public async Task SmallMessage_BelowThreshold_TakesTheStream()
    {
        var (_, serverStream) = await StartCallAsync(RandomBytes(Threshold - 1, seed: 3));

        var received = await serverStream.ReadMessageAsync(CancellationToken.None).DefaultTimeout();
        Assert.Equal(Threshold - 1, received!.Value.FlowControlledLength);
        received.Value.Release();
        Assert.Equal(0, _client.OutgoingRegions!.TotalBytes);
    }

    [Fact]
    public async Task ManyMessages_OneAtATime_ReuseOneRegion()
    {
        var (stream, serverStream) = await StartCallAsync(message: null);
        for (var i = 0; i < 20; i++)
        {
            var message = RandomBytes(300_000, seed: i);
            await stream.SendAsync(OutgoingFrames.ForMessage(message)).DefaultTimeout();
            var received = await serverStream.ReadMessageAsync(CancellationToken.None).DefaultTimeout();
            Assert.Equal(message, received!.Value.Payload.ToArray());
            received.Value.Release();
            await ConnectionPair.WaitUntil(() => _client.OutgoingRegions!.InUseCount == 0, "the region released");
        }

        Assert.Equal(512 * 1024, _client.OutgoingRegions!.TotalBytes);
        Assert.Equal(512 * 1024, _server.IncomingRegions!.MappedBytes);
    }

    [Fact]
    public async Task BudgetSpent_FurtherMessagesTakeTheStream_AllArriveInOrder()
    {
        await DisposeAsync();
        await StartAsync(new ConnectionOptions { MappedPayloadLimit = 1024 * 1024 });
        var (stream, serverStream) = await StartCallAsync(message: null);
        var messages = Enumerable.Range(0, 4).Select(i => RandomBytes(600_000, seed: 10 + i)).ToArray();
        // The first fills the budget and stays unreleased while the rest are sent (those wait on
        // the stream's window, so the reader runs beside them).
        await stream.SendAsync(OutgoingFrames.ForMessage(messages[0])).DefaultTimeout();
        var first = await serverStream.ReadMessageAsync(CancellationToken.None).DefaultTimeout();
        var sending = Task.Run(async () =>
        {
            foreach (var message in messages[1..])
            {
                await stream.SendAsync(OutgoingFrames.ForMessage(message));
            }
        });

        Assert.Equal(messages[0], first!.Value.Payload.ToArray());
        Assert.Equal(0, first.Value.FlowControlledLength);
        foreach (var message in messages[1..])
        {
            var received = await serverStream.ReadMessageAsync(CancellationToken.None).DefaultTimeout();
            Assert.Equal(message, received!.Value.Payload.ToArray());
            Assert.Equal(message.Length, received.Value.FlowControlledLength);
            received.Value.Release();
        }

        await sending.DefaultTimeout();
        first.Value.Release();
        Assert.Equal(1024 * 1024, _client.OutgoingRegions!.TotalBytes);
    }

    [Fact]
    public async Task ManyMessagesUnread_NoMoreThanMaxRegionsAtOnce_RestTakeTheStream()
    {
        var (stream, serverStream) = await StartCallAsync(message: null);
        var messages = Enumerable.Range(0, OutgoingRegionsMax + 4).Select(i => RandomBytes(70_000, seed: 20 + i)).ToArray();
        var sending = Task.Run(async () =>
        {
            foreach (var message in messages)
            {
                await stream.SendAsync(OutgoingFrames.ForMessage(message));
            }
        });

        var held = new List<IncomingMessage>();
        foreach (var message in messages)
        {
            var received = (await serverStream.ReadMessageAsync(CancellationToken.None).DefaultTimeout())!.Value;
            Assert.Equal(message, received.Payload.ToArray());
            held.Add(received);
        }

        await sending.DefaultTimeout();
        Assert.Equal(OutgoingRegionsMax, held.Count(m => m.FlowControlledLength == 0));
        Assert.Equal(OutgoingRegionsMax * 256 * 1024, _client.OutgoingRegions!.TotalBytes);
        held.ForEach(m => m.Release());
    }

    [Fact]
    public async Task StreamReset_WithMappedMessagesQueued_RegionsGoBackToTheSender()
    {
        var (stream, serverStream) = await StartCallAsync(RandomBytes(200_000, seed: 4));
        await stream.SendAsync(OutgoingFrames.ForMessage(RandomBytes(900_000, seed: 5))).DefaultTimeout();
        await ConnectionPair.WaitUntil(() => _server.IncomingRegions!.MappedBytes == 256 * 1024 + 1024 * 1024, "both regions mapped");

        // Nobody reads the server's side: the reset alone must let both regions go.
        await stream.ResetAsync(new Status(StatusCode.Cancelled, "enough")).DefaultTimeout();

        await ConnectionPair.WaitUntil(() => _client.OutgoingRegions!.InUseCount == 0, "the regions released");
        await Assert.ThrowsAsync<StreamResetException>(() => serverStream.ReadMessageAsync(CancellationToken.None).AsTask().DefaultTimeout());
    }

    [Fact]
    public async Task MappedMessageOverReceiveLimit_FailsCallResourceExhausted_RegionReleased()
    {
        await DisposeAsync();
        await StartAsync(new ConnectionOptions { MaxReceiveMessageSize = 256 * 1024 });
        var (stream, _) = await StartCallAsync(RandomBytes(300_000, seed: 6));

        var failure = await Assert.ThrowsAsync<StreamResetException>(() => stream.ReadMessageAsync(CancellationToken.None).AsTask().DefaultTimeout());
        Assert.Equal(StatusCode.ResourceExhausted, failure.Status.StatusCode);
        await ConnectionPair.WaitUntil(() => _client.OutgoingRegions!.InUseCount == 0, "the region released");
    }

    [Fact]
    public async Task ConnectionClosed_WhileAReaderHoldsAMappedMessage_ReaderSeesZerosNotAFault()
    {
        var (_, serverStream) = await StartCallAsync(RandomBytes(200_000, seed: 7));
        var held = (await serverStream.ReadMessageAsync(CancellationToken.None).DefaultTimeout())!.Value;

        await _client.DisposeAsync().AsTask().DefaultTimeout();
        await _server.DisposeAsync().AsTask().DefaultTimeout();

        // The peer's memory is gone; the range reads as zeros until the reader lets it go.
        Assert.All(held.Payload.ToArray(), b => Assert.Equal(0, b));
        held.Release();
        Assert.Equal(0, _server.IncomingRegions!.MappedBytes);
    }

    [Fact]
    public async Task DescriptorSendFails_CallFailsUnavailable_ConnectionGoes()
    {
        var (stream, _) = await StartCallAsync(message: null);
        _clientTransport.FailSends = true;

        var failure = await Assert.ThrowsAsync<StreamResetException>(() => stream.SendAsync(OutgoingFrames.ForMessage(RandomBytes(200_000, seed: 12))).AsTask().DefaultTimeout());

        Assert.Equal(StatusCode.Unavailable, failure.Status.StatusCode);
        await _client.Closed.DefaultTimeout();
        Assert.Equal(0, _client.OutgoingRegions!.InUseCount);
    }

    [Fact]
    public async Task MappingOff_NoRegionIsMade()
    {
        await DisposeAsync();
        await StartAsync(new ConnectionOptions { MappedPayloadLimit = 0 });
        var (_, serverStream) = await StartCallAsync(RandomBytes(500_000, seed: 8));

        var received = await serverStream.ReadMessageAsync(CancellationToken.None).DefaultTimeout();
        Assert.Equal(500_000, received!.Value.FlowControlledLength);
        received.Value.Release();
        Assert.Null(_client.OutgoingRegions);
        Assert.Null(_server.IncomingRegions);
    }

    [Fact]
    public async Task MessageSerializedIntoARegion_IsSentWithoutACopy_ArrivesIntact()
    {
        var (stream, serverStream) = await StartCallAsync(message: null);
        var message = RandomBytes(700_000, seed: 9);

        var serialized = MessageSerializer.Serialize(ChunkedMarshaller(announce: message.Length), message, int.MaxValue, "client", "test", stream.OutgoingRegions);
        Assert.True(MemoryMarshal.TryGetMemoryManager(serialized.Payload, out Rpc.Transports.Protocol.Mapping.OutgoingRegion? region));
        await stream.SendAsync(OutgoingFrames.ForMessage(serialized.Payload)).DefaultTimeout();
        serialized.Release();

        var received = await serverStream.ReadMessageAsync(CancellationToken.None).DefaultTimeout();
        Assert.Equal(message, received!.Value.Payload.ToArray());
        received.Value.Release();
        Assert.Equal(1024 * 1024, _client.OutgoingRegions!.TotalBytes);
        await ConnectionPair.WaitUntil(() => _client.OutgoingRegions.InUseCount == 0, "the region released");
        Assert.NotNull(region);
    }

    [Fact]
    public async Task MarshallerWritesPastWhatItAnnounced_MessageMovesToAnArray_RegionFreed()
    {
        var (stream, serverStream) = await StartCallAsync(message: null);
        var message = RandomBytes(300_000, seed: 10);

        // Announces 200 KB, writes 300 KB: more than the 256 KiB region it was given.
        var serialized = MessageSerializer.Serialize(ChunkedMarshaller(announce: 200_000), message, int.MaxValue, "client", "test", stream.OutgoingRegions);
        Assert.False(MemoryMarshal.TryGetMemoryManager(serialized.Payload, out Rpc.Transports.Protocol.Mapping.OutgoingRegion? _));
        Assert.Equal(0, _client.OutgoingRegions!.InUseCount);
        await stream.SendAsync(OutgoingFrames.ForMessage(serialized.Payload)).DefaultTimeout();
        serialized.Release();

        var received = await serverStream.ReadMessageAsync(CancellationToken.None).DefaultTimeout();
        Assert.Equal(message, received!.Value.Payload.ToArray());
        received.Value.Release();
    }

    [Fact]
    public async Task SerializedIntoARegion_NeverSent_ReleaseFreesTheRegion()
    {
        var (stream, _) = await StartCallAsync(message: null);

        var serialized = MessageSerializer.Serialize(ChunkedMarshaller(announce: 100_000), RandomBytes(100_000, seed: 11), int.MaxValue, "client", "test", stream.OutgoingRegions);
        Assert.Equal(1, _client.OutgoingRegions!.InUseCount);
        serialized.Release();
        serialized.Release();

        Assert.Equal(0, _client.OutgoingRegions.InUseCount);
    }

    /// <summary>A marshaller shaped as protobuf's generated ones: announce the size, then write through the buffer writer in pieces.</summary>
    private static Marshaller<byte[]> ChunkedMarshaller(int announce) => new(
        (message, context) =>
        {
            context.SetPayloadLength(announce);
            var writer = context.GetBufferWriter();
            for (var offset = 0; offset < message.Length; offset += 10_000)
            {
                var piece = message.AsSpan(offset, Math.Min(10_000, message.Length - offset));
                piece.CopyTo(writer.GetSpan(piece.Length));
                writer.Advance(piece.Length);
            }

            context.Complete();
        },
        context => context.PayloadAsNewBuffer());

    private async Task StartAsync(ConnectionOptions options)
    {
        var (client, server) = DescriptorPassingConnection.CreatePair(Threshold);
        _clientTransport = client;
        _client = new MultiplexedConnection(client, options, acceptor: null, NullLogger.Instance);
        _server = new MultiplexedConnection(server, options, _calls, NullLogger.Instance);
        await Task.WhenAll(_client.StartAsync(CancellationToken.None), _server.StartAsync(CancellationToken.None)).DefaultTimeout();
    }

    private async Task<(CallStream Client, CallStream Server)> StartCallAsync(byte[]? message)
    {
        var stream = _client.CreateStream();
        await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = -1, Message = message ?? default(ReadOnlyMemory<byte>), HasMessage = message is not null }).DefaultTimeout();
        return (stream, await _calls.NextAsync());
    }

    internal static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}

using System.Buffers;
using Grpc.Core;
using Google.Protobuf;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.TestServer;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.Internal;
using Rpc.Transports.SharedMemory;
using Xunit;

namespace Rpc.Tests.Transports;

public sealed class SharedMemoryRingTests
{
    [Theory]
    [InlineData(4096, 0)]
    [InlineData(4096, 50)]
    [InlineData(65536, 0)]
    public async Task Rings_RandomSizesBothDirections_EveryByteArrives(int capacity, int spinMicroseconds)
    {
        var name = "ring-" + Guid.NewGuid().ToString("N")[..8];
        using var server = SharedSegment.Create(name, capacity);
        using var client = SharedSegment.Open(server.Descriptor, capacity, LocalPeerPolicy.ServerUserId!.Value);
        server.CloseDescriptor();
        var spin = TimeSpan.FromMicroseconds(spinMicroseconds);

        // Each direction carries 4 MiB in writes of random sizes, many larger than the ring.
        var upstream = Pump(client.GetRing(0, spin), server.GetRing(0, spin), seed: 1);
        var downstream = Pump(server.GetRing(1, spin), client.GetRing(1, spin), seed: 2);
        await Task.WhenAll(upstream, downstream).DefaultTimeout();
    }

    [Fact]
    public async Task Ring_AbortedWhileReaderSleeps_WakesItWithAnError()
    {
        using var segment = SharedSegment.Create("abort-" + Guid.NewGuid().ToString("N")[..8], 4096);
        var ring = segment.GetRing(0, TimeSpan.Zero);
        var reading = Task.Run(() => ring.Read(new byte[16]));
        await Task.Delay(100);
        ring.Abort();
        await Assert.ThrowsAsync<IOException>(() => reading.DefaultTimeout());
    }

    [Fact]
    public async Task Ring_ProducerClosed_ReaderDrainsThenSeesEnd()
    {
        using var segment = SharedSegment.Create("close-" + Guid.NewGuid().ToString("N")[..8], 4096);
        var ring = segment.GetRing(0, TimeSpan.Zero);
        ring.Write([1, 2, 3]);
        ring.CloseProducer();
        var buffer = new byte[16];
        Assert.Equal(3, ring.Read(buffer));
        Assert.Equal(0, await Task.Run(() => ring.Read(buffer)).DefaultTimeout());
    }

    [Fact]
    public async Task SmallRing_MessagesLargerThanRing_PassThroughWholeServer()
    {
        var transports = TransportRegistry.CreateDefault();
        transports.Register(new SharedMemoryTransport(new SharedMemoryTransportOptions { RingCapacity = 4096 }));
        var address = $"shm://small-{Guid.NewGuid():N}";
        await using var server = new RpcServer(new RpcServerOptions { Transports = transports });
        server.AddService(new ConformanceService()).Listen(address);
        await server.StartAsync().DefaultTimeout();
        await using var channel = RpcChannel.ForAddress(address, new RpcChannelOptions { Transports = transports });
        var client = new TestService.TestServiceClient(channel);

        var body = new byte[1024 * 1024 + 3];
        new Random(3).NextBytes(body);
        var response = await client.UnaryCallAsync(new SimpleRequest { Payload = new Payload { Body = ByteString.CopyFrom(body) }, ResponseSize = 2 * 1024 * 1024 }).ResponseAsync.DefaultTimeout();
        Assert.Equal(2 * 1024 * 1024, response.Payload.Body.Length);
    }

    private static async Task Pump(SharedRing producer, SharedRing consumer, int seed)
    {
        const int total = 4 * 1024 * 1024;
        var writing = Task.Run(() =>
        {
            var random = new Random(seed);
            var sent = 0;
            while (sent < total)
            {
                var chunk = Expected(sent, Math.Min(random.Next(1, 20_000), total - sent), seed);
                producer.Write(chunk);
                sent += chunk.Length;
            }

            producer.CloseProducer();
        });
        var reading = Task.Run(() =>
        {
            var random = new Random(seed + 100);
            var received = 0;
            var buffer = new byte[20_000];
            while (true)
            {
                var count = consumer.Read(buffer.AsSpan(0, random.Next(1, buffer.Length)));
                if (count == 0)
                {
                    break;
                }

                Assert.Equal(Expected(received, count, seed), buffer.AsSpan(0, count).ToArray());
                received += count;
            }

            Assert.Equal(total, received);
        });
        await Task.WhenAll(writing, reading);
    }

    /// <summary>Byte i of stream <paramref name="seed"/>: a pattern that catches reordering, loss and duplication.</summary>
    private static byte[] Expected(int offset, int count, int seed)
    {
        var bytes = new byte[count];
        for (var i = 0; i < count; i++)
        {
            var position = offset + i;
            bytes[i] = (byte)((position * 31) ^ (position >> 8) ^ seed);
        }

        return bytes;
    }
}

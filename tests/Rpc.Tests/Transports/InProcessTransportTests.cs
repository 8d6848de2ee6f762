using Google.Protobuf;
using Grpc.Core;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.TestServer;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>inproc://: a server and a channel in one process, every call kind, and the address's lifetime.</summary>
public sealed class InProcessTransportTests
{
    private static string NewAddress() => $"inproc://test-{Guid.NewGuid():N}";

    private static async Task<RpcServer> StartServerAsync(string address)
    {
        var server = new RpcServer();
        server.AddService(new ConformanceService()).Listen(address);
        await server.StartAsync().DefaultTimeout();
        return server;
    }

    [Fact]
    public async Task EveryCallKind_InOneProcess_Works()
    {
        var address = NewAddress();
        await using var server = await StartServerAsync(address);
        await using var channel = RpcChannel.ForAddress(address);
        var client = new TestService.TestServiceClient(channel);

        var unary = await client.UnaryCallAsync(new SimpleRequest { ResponseSize = 100_000 }).ResponseAsync.DefaultTimeout();
        Assert.Equal(100_000, unary.Payload.Body.Length);
        Assert.StartsWith("inproc:", unary.Peer, StringComparison.Ordinal);

        using var serverStream = client.StreamingOutputCall(new StreamingOutputCallRequest { ResponseParameters = { new ResponseParameters { Size = 10 }, new ResponseParameters { Size = 20 } } });
        var sizes = new List<int>();
        while (await serverStream.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
        {
            sizes.Add(serverStream.ResponseStream.Current.Payload.Body.Length);
        }

        Assert.Equal([10, 20], sizes);

        using var clientStream = client.StreamingInputCall();
        for (var i = 0; i < 3; i++)
        {
            await clientStream.RequestStream.WriteAsync(new StreamingInputCallRequest { Payload = new Payload { Body = ByteString.CopyFrom(new byte[1000]) } }).DefaultTimeout();
        }

        await clientStream.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.Equal(3000, (await clientStream.ResponseAsync.DefaultTimeout()).AggregatedPayloadSize);

        using var duplex = client.FullDuplexCall();
        await duplex.RequestStream.WriteAsync(new StreamingOutputCallRequest { ResponseParameters = { new ResponseParameters { Size = 5 } } }).DefaultTimeout();
        Assert.True(await duplex.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal(5, duplex.ResponseStream.Current.Payload.Body.Length);
        await duplex.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.False(await duplex.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
    }

    [Fact]
    public async Task Call_NoServerAtTheName_FailsUnavailableNamingIt()
    {
        var address = NewAddress();
        await using var channel = RpcChannel.ForAddress(address);
        var client = new TestService.TestServiceClient(channel);

        var ex = await Assert.ThrowsAsync<RpcException>(() => client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Contains("nothing in this process listens", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Listen_NameAlreadyServed_RefusedWhileTheFirstServes_FreeAfterItStops()
    {
        var address = NewAddress();
        var first = await StartServerAsync(address);
        var second = new RpcServer();
        second.AddService(new ConformanceService()).Listen(address);
        await Assert.ThrowsAsync<AddressInUseException>(() => second.StartAsync().DefaultTimeout());
        await second.DisposeAsync();

        await first.ShutdownAsync().DefaultTimeout();
        await first.DisposeAsync();
        await using var third = await StartServerAsync(address);
        await using var channel = RpcChannel.ForAddress(address);
        await new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    [Fact]
    public void Validate_AddressWithAPath_RefusedNamingTheForm()
    {
        var ex = Assert.Throws<ArgumentException>(() => TransportRegistry.Default.Resolve(TransportAddress.Parse("inproc://a/b")));
        Assert.Contains("inproc://name", ex.Message, StringComparison.Ordinal);
    }
}

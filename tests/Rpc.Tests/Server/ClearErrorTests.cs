using Google.Protobuf;
using Grpc.Core;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.TestServer;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Xunit;

namespace Rpc.Tests.Server;

/// <summary>Errors a new user meets say what went wrong in their terms: which method, which limit, which channel.</summary>
public sealed class ClearErrorTests
{
    [Fact]
    public async Task AddService_Twice_SaysWhichMethodIsBound()
    {
        await using var server = new RpcServer();
        server.AddService(new ConformanceService());

        var ex = Assert.Throws<InvalidOperationException>(() => server.AddService(new ConformanceService()));

        Assert.Contains("'/rpc.testing.TestService/EmptyCall' is already bound", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddService_NotAGeneratedService_ArgumentException()
    {
        await using var server = new RpcServer();

        var ex = Assert.Throws<ArgumentException>(() => server.AddService(new object()));

        Assert.Contains("Grpc.Tools", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Call_DisposedChannel_NamesTheChannel()
    {
        var channel = RpcChannel.ForAddress("unix:///tmp/rpct-disposed.sock");
        await channel.DisposeAsync().DefaultTimeout();

        var ex = await Assert.ThrowsAsync<RpcException>(() => new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Contains("unix:///tmp/rpct-disposed.sock", ex.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("ConnectionManager", ex.Status.DebugException?.Message ?? "", StringComparison.Ordinal);
    }

    [Fact]
    public async Task Call_RequestOverClientSendLimit_SaysSizeAndLimit()
    {
        await using var server = await InProcessServer.StartAsync();
        await using var channel = RpcChannel.ForAddress(server.Address, new RpcChannelOptions { MaxSendMessageSize = 1000 });
        var request = new SimpleRequest { Payload = new Payload { Body = ByteString.CopyFrom(new byte[2000]) } };

        var ex = await Assert.ThrowsAsync<RpcException>(() => new TestService.TestServiceClient(channel).UnaryCallAsync(request).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Contains($"{request.CalculateSize()} bytes exceeds the client's send limit of 1000 bytes", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Call_ResponseOverServerSendLimit_SaysSizeAndLimit()
    {
        await using var server = await InProcessServer.StartAsync(new RpcServerOptions { MaxSendMessageSize = 1000 });
        await using var channel = RpcChannel.ForAddress(server.Address);

        var ex = await Assert.ThrowsAsync<RpcException>(() => new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest { ResponseSize = 2000 }).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Contains("exceeds the server's send limit of 1000 bytes", ex.Status.Detail, StringComparison.Ordinal);
    }
}

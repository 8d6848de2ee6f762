using Grpc.Core;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.TestServer;
using Xunit;

namespace Rpc.Tests.Client;

/// <summary>
/// A call the server never saw (refused by its GOAWAY, or held on a connection that went away
/// before the call went out) is sent again on a new connection, once, with no retry policy.
/// </summary>
public sealed class TransparentRetryTests
{
    [Fact]
    public async Task UnaryCall_QueuedOnConnectionServerShutsDown_RetriedOnReplacementServer()
    {
        var path = TestPaths.NewSocketPath();
        var address = "unix://" + path;
        // One call per connection: the second call waits for the first's stream, so it has not
        // gone out when the server's GOAWAY arrives.
        var first = new RpcServer(new RpcServerOptions { MaxConcurrentCallsPerConnection = 1 }).AddService(new ConformanceService()).Listen(address);
        await first.StartAsync().DefaultTimeout();
        await using var firstServer = first;
        await using var channel = RpcChannel.ForAddress(address);
        var client = new TestService.TestServiceClient(channel);
        using var running = client.SleepAsync(new SleepRequest { Key = Guid.NewGuid().ToString(), Millis = 1_500 });
        await running.ResponseHeadersAsync.DefaultTimeout();

        // Wait-for-ready only so that the retry's new connection may wait for the replacement
        // server: it changes how a connection is had, not whether the refused call is sent again.
        using var queued = client.EmptyCallAsync(new Empty(), new CallOptions(deadline: DateTime.UtcNow.AddSeconds(20)).WithWaitForReady());
        var stopping = first.ShutdownAsync();
        await Waits.UntilAsync(() => !File.Exists(path), "the first server lets go of its socket");
        var replacement = new FlakyService();
        await using var second = new RpcServer().AddService(replacement).Listen(address);
        await second.StartAsync().DefaultTimeout();

        await running.ResponseAsync.DefaultTimeout();
        await queued.ResponseAsync.DefaultTimeout();
        await stopping.DefaultTimeout();

        Assert.Equal(StatusCode.OK, queued.GetStatus().StatusCode);
        Assert.Equal(1, replacement.EmptyCalls);
    }

    [Fact]
    public async Task UnaryCall_RefusedByGoAwayAboveLastStream_RetriedOnNewConnection()
    {
        var path = TestPaths.NewSocketPath();
        var service = new FlakyService();
        await using var server = new RpcServer().AddService(service).Listen("unix://" + path);
        await server.StartAsync().DefaultTimeout();
        await using var proxy = new GoAwayProxy(path);
        await using var channel = RpcChannel.ForAddress(proxy.Address);

        await new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();

        Assert.Equal(1, proxy.Refused);
        Assert.Equal(1, service.EmptyCalls);
    }

    [Fact]
    public async Task ServerStreamingCall_RefusedByGoAwayAboveLastStream_RetriedOnNewConnection()
    {
        var path = TestPaths.NewSocketPath();
        await using var server = new RpcServer().AddService(new FlakyService()).Listen("unix://" + path);
        await server.StartAsync().DefaultTimeout();
        await using var proxy = new GoAwayProxy(path);
        await using var channel = RpcChannel.ForAddress(proxy.Address);
        var request = new StreamingOutputCallRequest();
        request.ResponseParameters.Add(new ResponseParameters { Size = 3 });

        using var call = new TestService.TestServiceClient(channel).StreamingOutputCall(request);

        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal(3, call.ResponseStream.Current.Payload.Body.Length);
        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal(1, proxy.Refused);
    }

    [Fact]
    public async Task UnaryCall_ServerFailsUnavailableWithoutPolicy_NotRetried()
    {
        var service = new FlakyService { Failures = 1 };
        var address = $"inproc://transparent-{Guid.NewGuid():N}";
        await using var server = new RpcServer().AddService(service).Listen(address);
        await server.StartAsync().DefaultTimeout();
        await using var channel = RpcChannel.ForAddress(address);

        var ex = await Assert.ThrowsAsync<RpcException>(() => new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest()).ResponseAsync.DefaultTimeout());

        // The server saw it: only a policy may send it again.
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Equal(1, service.Attempts);
    }
}

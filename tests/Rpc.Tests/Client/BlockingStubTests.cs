using Grpc.Core;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.TestServer;
using Xunit;

namespace Rpc.Tests.Client;

/// <summary>
/// Blocking stubs (<c>client.UnaryCall(request)</c>): the caller's thread waits for its own
/// response, completed on the connection's read loop, on every transport; the deadline and the
/// token still end the wait.
/// </summary>
public sealed class BlockingStubTests
{
    public static TheoryData<string> Schemes => ["unix", "shm", "tcp", "pipe", "inproc"];

    [Theory]
    [MemberData(nameof(Schemes))]
    public async Task BlockingUnaryCall_EveryTransport_ReturnsResponse(string scheme)
    {
        await using var server = await TransportServer.StartAsync(scheme, new ConformanceService(), inline: false);
        await using var channel = server.Channel(inline: false);
        var client = new TestService.TestServiceClient(channel);

        // On a pool thread so that a hang fails the test rather than blocking its runner.
        var responses = await Task.Run(() =>
        {
            var sizes = new List<int>();
            for (var i = 1; i <= 20; i++)
            {
                sizes.Add(client.UnaryCall(new SimpleRequest { ResponseSize = i }, deadline: DateTime.UtcNow.AddSeconds(15)).Payload.Body.Length);
            }

            return sizes;
        }).DefaultTimeout();

        Assert.Equal(Enumerable.Range(1, 20), responses);
    }

    [Theory]
    [MemberData(nameof(Schemes))]
    public async Task BlockingUnaryCall_ServerStatus_ThrowsRpcException(string scheme)
    {
        await using var server = await TransportServer.StartAsync(scheme, new ConformanceService(), inline: false);
        await using var channel = server.Channel(inline: false);
        var client = new TestService.TestServiceClient(channel);
        var request = new SimpleRequest { ResponseStatus = new EchoStatus { Code = (int)StatusCode.NotFound, Message = "nothing here" } };

        var ex = await Task.Run(() => Assert.Throws<RpcException>(() => client.UnaryCall(request, deadline: DateTime.UtcNow.AddSeconds(15)))).DefaultTimeout();

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Equal("nothing here", ex.Status.Detail);
    }

    [Theory]
    [MemberData(nameof(Schemes))]
    public async Task BlockingUnaryCall_HandlerOutlastsDeadline_DeadlineExceeded(string scheme)
    {
        await using var server = await TransportServer.StartAsync(scheme, new ConformanceService(), inline: false);
        await using var channel = server.Channel(inline: false);
        var client = new TestService.TestServiceClient(channel);
        var request = new SleepRequest { Key = Guid.NewGuid().ToString("N"), Millis = 60_000 };

        var ex = await Task.Run(() => Assert.Throws<RpcException>(() => client.Sleep(request, deadline: DateTime.UtcNow.AddMilliseconds(300)))).DefaultTimeout();

        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
    }

    [Theory]
    [MemberData(nameof(Schemes))]
    public async Task BlockingUnaryCall_TokenCancelled_Cancelled(string scheme)
    {
        await using var server = await TransportServer.StartAsync(scheme, new ConformanceService(), inline: false);
        await using var channel = server.Channel(inline: false);
        var client = new TestService.TestServiceClient(channel);
        var request = new SleepRequest { Key = Guid.NewGuid().ToString("N"), Millis = 60_000 };
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        var ex = await Task.Run(() => Assert.Throws<RpcException>(() => client.Sleep(request, cancellationToken: cancellation.Token))).DefaultTimeout();

        Assert.Equal(StatusCode.Cancelled, ex.StatusCode);
    }
}

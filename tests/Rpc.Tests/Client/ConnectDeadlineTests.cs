using System.Diagnostics;
using Grpc.Core;
using Rpc.Client;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Client;

/// <summary>A call's deadline and token bound its wait for a connection, not only what follows.</summary>
public sealed class ConnectDeadlineTests
{
    // Far below the 10 s connect timeout the calls would otherwise wait out, far above any scheduling delay.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Call_DeadlineWhileHandshakeUnanswered_DeadlineExceeded()
    {
        using var listener = new SilentListener();
        await using var channel = RpcChannel.ForAddress(listener.Address);
        var client = new TestService.TestServiceClient(channel);

        var watch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            client.EmptyCallAsync(new Empty(), deadline: DateTime.UtcNow.AddMilliseconds(500)).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        Assert.True(watch.Elapsed < Bound, $"The call took {watch.Elapsed} to time out.");
    }

    [Fact]
    public async Task Call_DeadlineToUnservedPipe_DeadlineExceeded()
    {
        await using var channel = RpcChannel.ForAddress($"pipe://rpct-nobody-{Guid.NewGuid():N}");
        var client = new TestService.TestServiceClient(channel);

        var watch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            client.EmptyCallAsync(new Empty(), deadline: DateTime.UtcNow.AddMilliseconds(500)).ResponseAsync.DefaultTimeout());

        // Either the deadline passed while the pipe was awaited, or the transport said at once that
        // nobody serves the name; never the 10 s connect timeout.
        Assert.True(ex.StatusCode is StatusCode.DeadlineExceeded or StatusCode.Unavailable, ex.Status.ToString());
        Assert.True(watch.Elapsed < Bound, $"The call took {watch.Elapsed} to fail.");
    }

    [Fact]
    public async Task Call_TokenCancelledWhileConnecting_Cancelled()
    {
        using var listener = new SilentListener();
        await using var channel = RpcChannel.ForAddress(listener.Address);
        var client = new TestService.TestServiceClient(channel);
        using var cancellation = new CancellationTokenSource();

        var watch = Stopwatch.StartNew();
        using var call = client.EmptyCallAsync(new Empty(), cancellationToken: cancellation.Token);
        await cancellation.CancelAsync();
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.Cancelled, ex.StatusCode);
        Assert.True(watch.Elapsed < Bound, $"The call took {watch.Elapsed} to end.");
    }

    [Fact]
    public async Task Call_DeadlineWhileAnotherCallConnects_OtherCallStillConnects()
    {
        await using var server = await InProcessServer.StartAsync();
        await using var channel = RpcChannel.ForAddress(server.Address);
        var client = new TestService.TestServiceClient(channel);

        // The first call gives up at once (its deadline is already close); the shared attempt it
        // started goes on, and the second call uses it.
        var impatient = client.EmptyCallAsync(new Empty(), deadline: DateTime.UtcNow.AddTicks(1));
        var patient = client.EmptyCallAsync(new Empty(), deadline: DateTime.UtcNow.AddSeconds(30));

        var ex = await Assert.ThrowsAsync<RpcException>(() => impatient.ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        await patient.ResponseAsync.DefaultTimeout();
    }
}

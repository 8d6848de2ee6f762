using System.Diagnostics;
using Grpc.Core;
using Rpc.Client;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Client;

/// <summary>
/// CallOptions.WithWaitForReady(): the call waits for a connection, through failed attempts, for
/// as long as its deadline and token allow; without it a call with no server fails Unavailable.
/// </summary>
public sealed class WaitForReadyTests
{
    private static RpcChannelOptions QuickBackoff() => new()
    {
        InitialReconnectBackoff = TimeSpan.FromMilliseconds(50),
        MaxReconnectBackoff = TimeSpan.FromMilliseconds(200),
    };

    [Fact]
    public async Task UnaryCall_WaitForReadyServerStartsLater_Succeeds()
    {
        var path = TestPaths.NewSocketPath();
        await using var channel = RpcChannel.ForAddress("unix://" + path, QuickBackoff());
        var client = new TestService.TestServiceClient(channel);

        using var call = client.UnaryCallAsync(new SimpleRequest { ResponseSize = 3 },
            new CallOptions(deadline: DateTime.UtcNow.Add(Rpc.Tests.Infrastructure.TaskExtensions.DefaultTimeoutSpan)).WithWaitForReady());
        // The call has seen a connect fail (it would have failed Unavailable without wait-for-ready).
        await ChannelStates.UntilAsync(channel, ConnectivityState.TransientFailure);
        Assert.False(call.ResponseAsync.IsCompleted);

        await using var server = await ServerProcess.StartAsync("unix://" + path);

        var response = await call.ResponseAsync.DefaultTimeout();
        Assert.Equal(3, response.Payload.Body.Length);
    }

    [Fact]
    public async Task ServerStreamingCall_WaitForReadyServerStartsLater_ReceivesEveryMessage()
    {
        var path = TestPaths.NewSocketPath();
        await using var channel = RpcChannel.ForAddress("unix://" + path, QuickBackoff());
        var request = new StreamingOutputCallRequest();
        request.ResponseParameters.Add(new ResponseParameters { Size = 1 });
        request.ResponseParameters.Add(new ResponseParameters { Size = 2 });

        using var call = new TestService.TestServiceClient(channel).StreamingOutputCall(request,
            new CallOptions(deadline: DateTime.UtcNow.Add(Rpc.Tests.Infrastructure.TaskExtensions.DefaultTimeoutSpan)).WithWaitForReady());
        await ChannelStates.UntilAsync(channel, ConnectivityState.TransientFailure);
        await using var server = await ServerProcess.StartAsync("unix://" + path);

        var sizes = new List<int>();
        while (await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
        {
            sizes.Add(call.ResponseStream.Current.Payload.Body.Length);
        }

        Assert.Equal([1, 2], sizes);
    }

    [Fact]
    public async Task UnaryCall_WaitForReadyNoServer_DeadlineExceeded()
    {
        await using var channel = RpcChannel.ForAddress("unix://" + TestPaths.NewSocketPath(), QuickBackoff());
        var client = new TestService.TestServiceClient(channel);

        var watch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.EmptyCallAsync(new Empty(),
            new CallOptions(deadline: DateTime.UtcNow.AddMilliseconds(300)).WithWaitForReady()).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        // Generous: proves the deadline, not the 10 s connect timeout, ended the wait.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"The call took {watch.Elapsed}.");
    }

    [Fact]
    public async Task UnaryCall_WaitForReadyNoServerTokenCancelled_Cancelled()
    {
        await using var channel = RpcChannel.ForAddress("unix://" + TestPaths.NewSocketPath(), QuickBackoff());
        using var cancellation = new CancellationTokenSource();

        using var call = new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty(),
            new CallOptions(cancellationToken: cancellation.Token).WithWaitForReady());
        await ChannelStates.UntilAsync(channel, ConnectivityState.TransientFailure);
        await cancellation.CancelAsync();

        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Cancelled, ex.StatusCode);
    }

    [Fact]
    public async Task UnaryCall_WaitForReadyChannelDisposed_Unavailable()
    {
        var channel = RpcChannel.ForAddress("unix://" + TestPaths.NewSocketPath(), QuickBackoff());
        using var call = new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty(), new CallOptions().WithWaitForReady());
        await ChannelStates.UntilAsync(channel, ConnectivityState.TransientFailure);

        await channel.DisposeAsync();

        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
    }

    [Fact]
    public async Task UnaryCall_NoWaitForReadyNoServer_UnavailableAtOnce()
    {
        await using var channel = RpcChannel.ForAddress("unix://" + TestPaths.NewSocketPath(), QuickBackoff());
        var client = new TestService.TestServiceClient(channel);

        var ex = await Assert.ThrowsAsync<RpcException>(() => client.EmptyCallAsync(new Empty(),
            deadline: DateTime.UtcNow.Add(Rpc.Tests.Infrastructure.TaskExtensions.DefaultTimeoutSpan)).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.StartsWith("Cannot connect to ", ex.Status.Detail, StringComparison.Ordinal);
    }
}

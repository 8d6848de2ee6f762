using Grpc.Core;
using Rpc.Client;
using Rpc.Testing;
using Rpc.Tests.Http;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Client;

/// <summary>
/// RpcChannel.State, ConnectAsync and WaitForStateChangedAsync move as grpc-dotnet's GrpcChannel
/// does: Idle → Connecting → Ready, TransientFailure while a server is missing, Idle once the
/// connection is lost or the server goes away, Shutdown after dispose.
/// </summary>
public sealed class ConnectivityStateTests
{
    private static RpcChannelOptions QuickBackoff() => new()
    {
        InitialReconnectBackoff = TimeSpan.FromMilliseconds(50),
        MaxReconnectBackoff = TimeSpan.FromMilliseconds(200),
    };

    [Fact]
    public async Task State_NewChannel_IdleUntilConnectAsyncMakesItReady()
    {
        await using var server = await InProcessServer.StartAsync();
        await using var channel = RpcChannel.ForAddress(server.Address);
        Assert.Equal(ConnectivityState.Idle, channel.State);

        await channel.ConnectAsync().DefaultTimeout();

        Assert.Equal(ConnectivityState.Ready, channel.State);
        await new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        Assert.Equal(ConnectivityState.Ready, channel.State);
    }

    [Fact]
    public async Task State_FirstCall_ConnectsAndIsReady()
    {
        await using var server = await InProcessServer.StartAsync();
        await using var channel = RpcChannel.ForAddress(server.Address);
        var changed = channel.WaitForStateChangedAsync(ConnectivityState.Idle);
        Assert.False(changed.IsCompleted);

        await new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();

        await changed.DefaultTimeout();
        Assert.Equal(ConnectivityState.Ready, channel.State);
    }

    [Fact]
    public async Task ConnectAsync_HandshakeUnanswered_ConnectingUntilTokenFires()
    {
        using var listener = new SilentListener();
        await using var channel = RpcChannel.ForAddress(listener.Address);
        using var cancellation = new CancellationTokenSource();

        var connecting = channel.ConnectAsync(cancellation.Token);

        Assert.Equal(ConnectivityState.Connecting, channel.State);
        Assert.False(connecting.IsCompleted);
        await cancellation.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connecting.DefaultTimeout());
    }

    [Fact]
    public async Task State_NoServer_TransientFailureThenConnectAsyncWaitsForServerToStart()
    {
        var path = TestPaths.NewSocketPath();
        await using var channel = RpcChannel.ForAddress("unix://" + path, QuickBackoff());
        using var bound = new CancellationTokenSource(Rpc.Tests.Infrastructure.TaskExtensions.DefaultTimeoutSpan);

        var connecting = channel.ConnectAsync(bound.Token);
        await ChannelStates.UntilAsync(channel, ConnectivityState.TransientFailure);
        Assert.False(connecting.IsCompleted);

        await using var server = await ServerProcess.StartAsync("unix://" + path);
        await connecting.DefaultTimeout();

        Assert.Equal(ConnectivityState.Ready, channel.State);
        await new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    [Fact]
    public async Task State_ServerKilledThenRestarted_ReadyIdleTransientFailureReady()
    {
        var path = TestPaths.NewSocketPath();
        var server = await ServerProcess.StartAsync("unix://" + path);
        await using var channel = RpcChannel.ForAddress(server.Address, QuickBackoff());
        var client = new TestService.TestServiceClient(channel);
        try
        {
            await channel.ConnectAsync().DefaultTimeout();
            Assert.Equal(ConnectivityState.Ready, channel.State);

            await server.Process.KillAsync();
            await ChannelStates.UntilAsync(channel, ConnectivityState.Idle);
        }
        finally
        {
            await server.DisposeAsync();
            // A killed server cannot remove its socket; the restarted one would take it over anyway.
            File.Delete(path);
            File.Delete(path + ".lock");
        }

        var ex = await Assert.ThrowsAsync<RpcException>(() => client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Equal(ConnectivityState.TransientFailure, channel.State);

        using var bound = new CancellationTokenSource(Rpc.Tests.Infrastructure.TaskExtensions.DefaultTimeoutSpan);
        var reconnecting = channel.ConnectAsync(bound.Token);
        await using var restarted = await ServerProcess.StartAsync("unix://" + path);
        await reconnecting.DefaultTimeout();

        Assert.Equal(ConnectivityState.Ready, channel.State);
        await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    [Fact]
    public async Task State_ServerShutsDownGracefully_IdleWhileCallInFlightFinishes()
    {
        await using var server = await InProcessServer.StartAsync();
        await using var channel = RpcChannel.ForAddress(server.Address);
        var client = new TestService.TestServiceClient(channel);
        using var call = client.SleepAsync(new SleepRequest { Key = Guid.NewGuid().ToString(), Millis = 1_000 });
        await call.ResponseHeadersAsync.DefaultTimeout();
        Assert.Equal(ConnectivityState.Ready, channel.State);

        var stopping = server.Server.ShutdownAsync();

        // GOAWAY: the connection takes no new calls, so the channel is no longer Ready.
        await Waits.UntilAsync(() => channel.State == ConnectivityState.Idle, "the channel sees GOAWAY");
        await call.ResponseAsync.DefaultTimeout();
        await stopping.DefaultTimeout();
        Assert.Equal(ConnectivityState.Idle, channel.State);
    }

    [Fact]
    public async Task Dispose_ReadyChannel_ShutdownAndWaitersWake()
    {
        await using var server = await InProcessServer.StartAsync();
        var channel = RpcChannel.ForAddress(server.Address);
        await channel.ConnectAsync().DefaultTimeout();
        var changed = channel.WaitForStateChangedAsync(ConnectivityState.Ready);

        await channel.DisposeAsync();

        await changed.DefaultTimeout();
        Assert.Equal(ConnectivityState.Shutdown, channel.State);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => channel.ConnectAsync().DefaultTimeout());
    }

    [Fact]
    public async Task Dispose_WhileConnectAsyncWaitsForServer_ConnectAsyncEnds()
    {
        var channel = RpcChannel.ForAddress("unix://" + TestPaths.NewSocketPath(), QuickBackoff());
        var connecting = channel.ConnectAsync();
        await ChannelStates.UntilAsync(channel, ConnectivityState.TransientFailure);

        await channel.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => connecting.DefaultTimeout());
        Assert.Equal(ConnectivityState.Shutdown, channel.State);
    }

    [Fact]
    public async Task State_HttpChannel_FollowsGrpcChannel()
    {
        await using var server = await ServerHttpTests.StartAsync("http://127.0.0.1:0");
        await using var channel = RpcChannel.ForAddress(server.BoundAddresses[0], new RpcChannelOptions { SameHostUpgrade = false });
        Assert.Equal(ConnectivityState.Idle, channel.State);

        await channel.ConnectAsync().DefaultTimeout();

        Assert.Equal(ConnectivityState.Ready, channel.State);
        var changed = channel.WaitForStateChangedAsync(ConnectivityState.Ready);
        await channel.DisposeAsync();
        await changed.DefaultTimeout();
        Assert.Equal(ConnectivityState.Shutdown, channel.State);
    }
}

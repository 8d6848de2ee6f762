using Grpc.Core;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.Tests.Client;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Xunit;

namespace Rpc.Tests.Server;

/// <summary>The protocol's per-connection limits are public options on both sides, refused when out of range and applied to every connection.</summary>
public sealed class ConnectionLimitsTests
{
    public static TheoryData<Action<ConnectionLimits>, string> OutOfRange => new()
    {
        { l => l.InitialStreamWindowSize = 1024, nameof(ConnectionLimits.InitialStreamWindowSize) },
        { l => l.InitialConnectionWindowSize = 0, nameof(ConnectionLimits.InitialConnectionWindowSize) },
        { l => l.MaxHeaderListSize = 100, nameof(ConnectionLimits.MaxHeaderListSize) },
        { l => l.MaxHeaderListSize = 32 * 1024 * 1024, nameof(ConnectionLimits.MaxHeaderListSize) },
        { l => l.OutputHighWaterMark = 10, nameof(ConnectionLimits.OutputHighWaterMark) },
        { l => l.IdleTimeout = TimeSpan.Zero, nameof(ConnectionLimits.IdleTimeout) },
        { l => l.DrainTimeout = TimeSpan.FromSeconds(-1), nameof(ConnectionLimits.DrainTimeout) },
        { l => l.MaxResetBurst = 0, nameof(ConnectionLimits.MaxResetBurst) },
        { l => l.MaxResetsPerSecond = double.NaN, nameof(ConnectionLimits.MaxResetsPerSecond) },
    };

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public void Limit_OutOfRange_RefusedWhenSetNamingIt(Action<ConnectionLimits> set, string name)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => set(new RpcServerOptions().Limits));
        Assert.Equal(name, ex.ParamName);
        Assert.Contains(name, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Limits_Defaults_AreTheDocumentedOnes()
    {
        var limits = new RpcChannelOptions().Limits;
        Assert.Equal(1024 * 1024, limits.InitialStreamWindowSize);
        Assert.Equal(16 * 1024 * 1024, limits.InitialConnectionWindowSize);
        Assert.Equal(16 * 1024, limits.MaxHeaderListSize);
        Assert.Equal(Timeout.InfiniteTimeSpan, limits.IdleTimeout);
    }

    [Fact]
    public async Task ServerMaxHeaderListSize_ClientRefusesLargerRequestHeaders_OnlyThatCallFails()
    {
        var options = new RpcServerOptions();
        options.Limits.MaxHeaderListSize = 1024;
        await using var server = await InProcessServer.StartAsync(options);
        await using var channel = RpcChannel.ForAddress(server.Address);
        var client = new TestService.TestServiceClient(channel);
        await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();

        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            client.EmptyCallAsync(new Empty(), new Metadata { { "x-big", new string('a', 2048) } }).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Contains("1024", ex.Status.Detail, StringComparison.Ordinal);

        await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    [Fact]
    public async Task ChannelMaxHeaderListSize_LargerResponseHeaders_FailTheCallResourceExhausted()
    {
        await using var server = await InProcessServer.StartAsync();
        var options = new RpcChannelOptions();
        options.Limits.MaxHeaderListSize = 1024;
        await using var channel = RpcChannel.ForAddress(server.Address, options);
        var client = new TestService.TestServiceClient(channel);

        // The server echoes x-echo-* request headers as response headers: 1.5 KiB passes its 16 KiB
        // limit but not this channel's 1 KiB.
        var call = client.UnaryCallAsync(new SimpleRequest { EchoMetadata = true }, new Metadata { { "x-echo-big", new string('a', 1536) } });
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);

        await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    [Fact]
    public async Task ServerIdleTimeout_ConnectionWithoutCalls_IsClosedAndTheNextCallReconnects()
    {
        var options = new RpcServerOptions();
        options.Limits.IdleTimeout = TimeSpan.FromMilliseconds(200);
        await using var server = await InProcessServer.StartAsync(options);
        await using var channel = RpcChannel.ForAddress(server.Address);
        var client = new TestService.TestServiceClient(channel);
        await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();

        await Waits.UntilAsync(() => channel.Connections.OpenConnectionCount == 0, "the server closes the idle connection");
        await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }
}

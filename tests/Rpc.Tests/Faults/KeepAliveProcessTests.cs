using Grpc.Core;
using Rpc.Client;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Faults;

/// <summary>
/// A server that stops answering without closing its connection (frozen with SIGSTOP, as a TCP peer
/// behind a dead link looks) is found by keepalive pings: the channel's waiting call fails
/// Unavailable instead of waiting forever, and the channel connects afresh once the server is back.
/// </summary>
public sealed class KeepAliveProcessTests
{
    [Fact(Timeout = 120_000)]
    public async Task FrozenServer_CallWaitingForIt_FailsUnavailableByKeepalive()
    {
        await using var server = await ServerProcess.StartAsync("tcp://127.0.0.1:0");
        var options = new RpcChannelOptions();
        options.Limits.KeepAlivePingDelay = TimeSpan.FromMilliseconds(200);
        options.Limits.KeepAlivePingTimeout = TimeSpan.FromSeconds(1);
        await using var channel = RpcChannel.ForAddress(server.Address, options);
        var client = new TestService.TestServiceClient(channel);
        await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();

        // A call with no deadline that the server would answer only much later.
        var call = client.SleepAsync(new SleepRequest { Key = Guid.NewGuid().ToString("N"), Millis = 60_000 });
        await Task.Delay(200);
        server.Process.Freeze();
        try
        {
            var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
            Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
            Assert.Contains("keepalive", ex.Status.Detail, StringComparison.Ordinal);
        }
        finally
        {
            server.Process.Thaw();
        }

        await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }
}

using Rpc.Client;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Xunit;

namespace Rpc.Tests.Transports;

public sealed class UnixSocketTransportTests
{
    [Fact]
    public async Task Start_CreatesSocketFileForOwnerOnly_ShutdownRemovesIt()
    {
        var server = await InProcessServer.StartAsync();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(server.SocketPath));
        await server.DisposeAsync();
        Assert.False(File.Exists(server.SocketPath));
    }

    [Fact]
    public async Task Start_StaleSocketFileFromCrashedServer_IsReplaced()
    {
        var path = TestPaths.NewSocketPath();
        await using (var crashed = await ServerProcess.StartAsync("unix://" + path))
        {
            await crashed.Process.KillAsync();
        }

        Assert.True(File.Exists(path));
        await using var server = await InProcessServer.StartAsync(path: path);
        using var channel = RpcChannel.ForAddress(server.Address);
        await new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    [Fact]
    public async Task Start_LiveServerOnPath_FailsWithAddressInUse()
    {
        await using var first = await InProcessServer.StartAsync();
        var ex = await Assert.ThrowsAsync<AddressInUseException>(() => InProcessServer.StartAsync(path: first.SocketPath));
        Assert.Contains("Address in use", ex.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(first.SocketPath), "The failed start must leave the live server's socket alone.");
    }

    [Fact]
    public async Task Call_NothingListening_FailsWithUnavailable()
    {
        using var channel = RpcChannel.ForAddress("unix://" + TestPaths.NewSocketPath());
        var ex = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());
        Assert.Equal(Grpc.Core.StatusCode.Unavailable, ex.StatusCode);
    }
}

using Grpc.Core;
using Grpc.Net.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Xunit;

namespace Rpc.Tests.Http;

/// <summary>The same-host upgrade's advertisement: local peers of the http endpoint learn the server's local addresses.</summary>
public sealed class ServerAdvertisementTests
{
    [Fact]
    public async Task HttpResponse_ToLoopbackPeer_AdvertisesShmThenUnixForThisHostAndUser()
    {
        var path = TestPaths.NewSocketPath();
        var shm = $"shm://rpct-{Guid.NewGuid():N}";
        await using var server = await ServerHttpTests.StartAsync("unix://" + path, "http://127.0.0.1:0", shm);
        using var channel = GrpcChannel.ForAddress(server.BoundAddresses[1]);

        var advertised = await AdvertisementAsync(channel);

        Assert.True(LocalEndpoints.TryParse(advertised, out var endpoints), $"Not an advertisement: '{advertised}'.");
        Assert.Equal(LocalEndpoints.CurrentHostId, endpoints!.HostId);
        Assert.Equal(Rpc.Transports.Internal.LocalPeerPolicy.ServerUserId, endpoints.UserId);
        Assert.Equal([server.BoundAddresses[2], "unix://" + path], endpoints.Endpoints);
    }

    [Fact]
    public async Task HttpResponse_OnSniffedUnixConnection_Advertises()
    {
        var path = TestPaths.NewSocketPath();
        await using var server = await ServerHttpTests.StartAsync("unix://" + path);
        using var channel = ServerSniffingTests.UnixGrpcChannel(path);

        Assert.True(LocalEndpoints.TryParse(await AdvertisementAsync(channel), out var endpoints));
        Assert.Equal(["unix://" + path], endpoints!.Endpoints);
    }

    [Fact]
    public async Task HttpResponse_AdvertiseLocalEndpointsOff_NoHeader()
    {
        var options = new RpcServerOptions { AdvertiseLocalEndpoints = false };
        await using var server = await ServerHttpTests.StartAsync(options, "unix://" + TestPaths.NewSocketPath(), "http://127.0.0.1:0");
        using var channel = GrpcChannel.ForAddress(server.BoundAddresses[1]);
        Assert.Null(await AdvertisementAsync(channel));
    }

    [Fact]
    public async Task HttpResponse_NoLocalAddresses_NoHeader()
    {
        await using var server = await ServerHttpTests.StartAsync("http://127.0.0.1:0");
        using var channel = GrpcChannel.ForAddress(server.BoundAddresses[0]);
        Assert.Null(await AdvertisementAsync(channel));
    }

    [Fact]
    public async Task HttpResponse_OnSniffedTcpConnection_NoHeader()
    {
        await using var server = await ServerHttpTests.StartAsync("tcp://127.0.0.1:0", "unix://" + TestPaths.NewSocketPath());
        var port = new Uri(server.BoundAddresses[0].Replace("tcp://", "http://", StringComparison.Ordinal)).Port;
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        Assert.Null(await AdvertisementAsync(channel));
    }

    private static async Task<string?> AdvertisementAsync(GrpcChannel channel)
    {
        using var call = new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty());
        await call.ResponseAsync.DefaultTimeout();
        var headers = await call.ResponseHeadersAsync.DefaultTimeout();
        return headers.GetValue(LocalEndpoints.HeaderName);
    }
}

using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.TestServer;
using Xunit;

namespace Rpc.Tests.Hosting;

/// <summary>AddRpcClient: typed clients from the container over shared channels, interceptors, disposal.</summary>
public sealed class ClientHostingTests
{
    [Fact]
    public async Task AddRpcClient_TypedClient_CallsTheHostedServer()
    {
        var address = "unix://" + TestPaths.NewSocketPath();
        await using var host = await TestHost.StartAsync(services =>
        {
            services.AddRpcServer().AddService<ConformanceService>().Listen(address);
            services.AddRpcClient<TestService.TestServiceClient>(address);
        });

        var client = host.Services.GetRequiredService<TestService.TestServiceClient>();
        var response = await client.UnaryCallAsync(new SimpleRequest { ResponseSize = 3 }).ResponseAsync.DefaultTimeout();

        Assert.Equal(3, response.Payload.Body.Length);
    }

    [Fact]
    public async Task AddRpcClient_ClientsOfOneAddress_ShareOneConnection()
    {
        await using var server = await TestHost.StartAsync(services =>
            services.AddRpcServer().AddService<ConformanceService>().Listen("tcp://127.0.0.1:0"));
        var address = server.Services.GetRequiredService<Rpc.Server.RpcServer>().BoundAddresses[0];
        var services = new ServiceCollection();
        services.AddRpcClient<TestService.TestServiceClient>(address);
        services.AddRpcClient<OtherTestServiceClient>(address);
        await using var provider = services.BuildServiceProvider();

        var peers = new List<string>();
        foreach (var client in new TestService.TestServiceClient[]
        {
            provider.GetRequiredService<TestService.TestServiceClient>(),
            provider.GetRequiredService<TestService.TestServiceClient>(),
            provider.GetRequiredService<OtherTestServiceClient>(),
        })
        {
            peers.Add((await client.UnaryCallAsync(new SimpleRequest()).ResponseAsync.DefaultTimeout()).Peer);
        }

        // Over TCP the server's peer names the client's port: one port, one connection, one channel.
        Assert.Single(peers.Distinct());
        Assert.StartsWith("ipv4:127.0.0.1:", peers[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddRpcClient_Configure_ChannelOptionsApplied()
    {
        var address = "unix://" + TestPaths.NewSocketPath();
        await using var host = await TestHost.StartAsync(services =>
        {
            services.AddRpcServer().AddService<ConformanceService>().Listen(address);
            services.AddRpcClient<TestService.TestServiceClient>(address, o => o.MaxReceiveMessageSize = 100);
        });

        var client = host.Services.GetRequiredService<TestService.TestServiceClient>();
        var error = await Assert.ThrowsAsync<RpcException>(() => client.UnaryCallAsync(new SimpleRequest { ResponseSize = 1000 }).ResponseAsync.DefaultTimeout());

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public async Task AddInterceptor_TwoInterceptors_RunInTheOrderAdded()
    {
        var address = "unix://" + TestPaths.NewSocketPath();
        await using var host = await TestHost.StartAsync(services =>
        {
            services.AddSingleton<FirstInterceptor>();
            services.AddRpcServer().AddService<ConformanceService>().Listen(address);
            // SecondInterceptor is not registered: it is created from the container.
            services.AddRpcClient<TestService.TestServiceClient>(address).AddInterceptor<FirstInterceptor>().AddInterceptor<SecondInterceptor>();
        });

        var client = host.Services.GetRequiredService<TestService.TestServiceClient>();
        using var call = client.UnaryCallAsync(new SimpleRequest { EchoMetadata = true });
        await call.ResponseAsync.DefaultTimeout();
        var headers = await call.ResponseHeadersAsync.DefaultTimeout();

        Assert.Equal("first,second", headers.GetValue("x-echo-order"));
    }

    [Fact]
    public async Task AddRpcClient_ContainerDisposed_ChannelClosed()
    {
        var address = "unix://" + TestPaths.NewSocketPath();
        await using var server = await TestHost.StartAsync(services =>
            services.AddRpcServer().AddService<ConformanceService>().Listen(address));
        var services = new ServiceCollection();
        services.AddRpcClient<TestService.TestServiceClient>(address);
        var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<TestService.TestServiceClient>();
        await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();

        await provider.DisposeAsync().DefaultTimeout();

        var error = await Assert.ThrowsAsync<RpcException>(() => client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("disposed", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void AddRpcClient_SameClientTwoAddresses_Throws()
    {
        var services = new ServiceCollection();
        services.AddRpcClient<TestService.TestServiceClient>("unix:///tmp/a.sock");

        var error = Assert.Throws<InvalidOperationException>(() => services.AddRpcClient<TestService.TestServiceClient>("unix:///tmp/b.sock"));

        Assert.Contains("unix:///tmp/a.sock", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddRpcClient_MalformedAddress_Throws()
    {
        var services = new ServiceCollection();

        Assert.Throws<ArgumentException>(() => services.AddRpcClient<TestService.TestServiceClient>("unix://"));
    }
}

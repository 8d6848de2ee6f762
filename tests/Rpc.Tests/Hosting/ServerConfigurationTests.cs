using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.TestServer;
using Xunit;

namespace Rpc.Tests.Hosting;

/// <summary>The "Rpc:Server" configuration section: addresses, limits and timeouts, and what it refuses.</summary>
public sealed class ServerConfigurationTests
{
    [Fact]
    public async Task Configuration_LimitsSection_BoundIntoConnectionLimits()
    {
        await using var host = await TestHost.StartAsync(
            services => services.AddRpcServer().AddService<ConformanceService>(),
            new Dictionary<string, string?>
            {
                ["Rpc:Server:Addresses:0"] = "tcp://127.0.0.1:0",
                ["Rpc:Server:Limits:KeepAlivePingDelay"] = "00:00:30",
                ["Rpc:Server:Limits:IdleTimeout"] = "Infinite",
                ["Rpc:Server:Limits:MaxHeaderListSize"] = "4096",
                ["Rpc:Server:Limits:MaxResetsPerSecond"] = "100.5",
            });

        var limits = host.Services.GetRequiredService<IOptions<RpcServerOptions>>().Value.Limits;
        Assert.Equal(TimeSpan.FromSeconds(30), limits.KeepAlivePingDelay);
        Assert.Equal(Timeout.InfiniteTimeSpan, limits.IdleTimeout);
        Assert.Equal(4096, limits.MaxHeaderListSize);
        Assert.Equal(100.5, limits.MaxResetsPerSecond);
    }

    [Fact]
    public async Task Configuration_AddressesLimitsAndTimeouts_Bound()
    {
        var path = TestPaths.NewSocketPath();
        await using var host = await TestHost.StartAsync(
            services => services.AddRpcServer().AddService<ConformanceService>(),
            new Dictionary<string, string?>
            {
                ["Rpc:Server:Addresses:0"] = "unix://" + path,
                ["Rpc:Server:Addresses:1"] = "tcp://127.0.0.1:0",
                ["Rpc:Server:MaxReceiveMessageSize"] = "1024",
                ["Rpc:Server:ShutdownTimeout"] = "00:00:07",
                ["Rpc:Server:enableDetailedErrors"] = "true",
            });

        var options = host.Services.GetRequiredService<IOptions<RpcServerOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(7), options.ShutdownTimeout);
        Assert.True(options.EnableDetailedErrors);
        var server = host.Services.GetRequiredService<RpcServer>();
        Assert.Equal(2, server.BoundAddresses.Count);
        foreach (var address in server.BoundAddresses)
        {
            using var channel = RpcChannel.ForAddress(address);
            var client = new TestService.TestServiceClient(channel);
            await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
            var tooBig = new SimpleRequest { Payload = new Payload { Body = Google.Protobuf.ByteString.CopyFrom(new byte[2048]) } };
            var error = await Assert.ThrowsAsync<RpcException>(() => client.UnaryCallAsync(tooBig).ResponseAsync.DefaultTimeout());
            Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        }
    }

    [Fact]
    public async Task Configuration_SingleAddressString_Listened()
    {
        var address = "unix://" + TestPaths.NewSocketPath();
        await using var host = await TestHost.StartAsync(
            services => services.AddRpcServer().AddService<ConformanceService>(),
            new Dictionary<string, string?> { ["Rpc:Server:Addresses"] = address });
        using var channel = RpcChannel.ForAddress(address);

        await new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    [Fact]
    public async Task Configuration_AndListen_ServerListensOnBoth()
    {
        var fromConfiguration = "unix://" + TestPaths.NewSocketPath();
        var fromCode = "unix://" + TestPaths.NewSocketPath();
        await using var host = await TestHost.StartAsync(
            services => services.AddRpcServer().AddService<ConformanceService>().Listen(fromCode),
            new Dictionary<string, string?> { ["Rpc:Server:Addresses:0"] = fromConfiguration });

        foreach (var address in new[] { fromConfiguration, fromCode })
        {
            using var channel = RpcChannel.ForAddress(address);
            await new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        }
    }

    [Fact]
    public async Task Configuration_ConfigureDelegate_AppliedAfterConfiguration()
    {
        await using var host = await TestHost.StartAsync(
            services => services.AddRpcServer(o => o.HandshakeTimeout = TimeSpan.FromSeconds(3)).AddService<ConformanceService>().Listen("tcp://127.0.0.1:0"),
            new Dictionary<string, string?>
            {
                ["Rpc:Server:HandshakeTimeout"] = "00:00:09",
                ["Rpc:Server:MaxSendMessageSize"] = "4096",
            });

        var options = host.Services.GetRequiredService<IOptions<RpcServerOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(3), options.HandshakeTimeout);
        Assert.Equal(4096, options.MaxSendMessageSize);
    }

    [Theory]
    [InlineData("Rpc:Server:Limits:MaxHeaderListSize", "10")]
    [InlineData("Rpc:Server:Limits:NoSuchLimit", "1")]
    [InlineData("Rpc:Server:MaxReceiveMessageSize", "lots")]
    [InlineData("Rpc:Server:MaxReceiveMessageSize", "-1")]
    [InlineData("Rpc:Server:MaxSendMessageSize", "0")]
    [InlineData("Rpc:Server:ShutdownTimeout", "-00:00:01")]
    [InlineData("Rpc:Server:HandshakeTimeout", "00:00:00")]
    [InlineData("Rpc:Server:MaxConcurrentCallsPerConnection", "0")]
    [InlineData("Rpc:Server:EnableDetailedErrors", "sometimes")]
    [InlineData("Rpc:Server:MaxRecieveMessageSize", "1024")]
    [InlineData("Rpc:Server:ShutdownTimeout:Seconds", "5")]
    [InlineData("Rpc:Server:Addresses:0", "nope://x")]
    [InlineData("Rpc:Server:Addresses:0", "unix://")]
    public async Task Configuration_BadValue_HostStartFailsNamingTheKey(string key, string value)
    {
        var builder = TestHost.CreateBuilder(new Dictionary<string, string?> { [key] = value });
        builder.Services.AddRpcServer().AddService<ConformanceService>().Listen("tcp://127.0.0.1:0");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestHost.StartAsync(builder));

        var named = key.EndsWith(":Seconds", StringComparison.Ordinal) ? key[..key.LastIndexOf(':')] : key;
        Assert.Contains($"'{named}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Configuration_NoSection_DefaultsKept()
    {
        await using var host = await TestHost.StartAsync(
            services => services.AddRpcServer().AddService<ConformanceService>().Listen("tcp://127.0.0.1:0"),
            new Dictionary<string, string?> { ["Other:Key"] = "1" });

        var options = host.Services.GetRequiredService<IOptions<RpcServerOptions>>().Value;
        var defaults = new RpcServerOptions();
        Assert.Equal(defaults.MaxReceiveMessageSize, options.MaxReceiveMessageSize);
        Assert.Equal(defaults.ShutdownTimeout, options.ShutdownTimeout);
    }
}

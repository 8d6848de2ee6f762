using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.TestServer;
using Xunit;

namespace Rpc.Tests.Http;

/// <summary>An RpcServer's http:// address, called by stock Grpc.Net.Client in this process.</summary>
public sealed class ServerHttpTests
{
    [Fact]
    public async Task Listen_HttpPortZero_BoundAddressesNamesRealPortAndServesCalls()
    {
        await using var server = await StartAsync("http://127.0.0.1:0");
        var address = Assert.Single(server.BoundAddresses);
        Assert.Matches(@"^http://127\.0\.0\.1:[1-9][0-9]*$", address);

        using var channel = GrpcChannel.ForAddress(address);
        var response = await new TestService.TestServiceClient(channel).UnaryCallAsync(new SimpleRequest { ResponseSize = 7 }).ResponseAsync.DefaultTimeout();
        Assert.Equal(7, response.Payload.Body.Length);
        Assert.StartsWith("ipv4:127.0.0.1:", response.Peer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Listen_HttpAndUnix_SameServiceInstanceAndInterceptorsOnBoth()
    {
        var interceptor = new CountingInterceptor();
        var options = new RpcServerOptions();
        options.Interceptors.Add(interceptor);
        var path = TestPaths.NewSocketPath();
        await using var server = await StartAsync(options, "unix://" + path, "http://127.0.0.1:0");
        Assert.Equal("unix://" + path, server.BoundAddresses[0]);

        using var channel = GrpcChannel.ForAddress(server.BoundAddresses[1]);
        var client = new TestService.TestServiceClient(channel);
        var key = Guid.NewGuid().ToString();
        // The sleep's outcome lives in the service instance: asked over the other protocol, it is there.
        await using var local = Rpc.Client.RpcChannel.ForAddress(server.BoundAddresses[0]);
        var sleeping = client.SleepAsync(new SleepRequest { Key = key, Millis = 1 });
        await sleeping.ResponseAsync.DefaultTimeout();
        var outcome = await new TestService.TestServiceClient(local).GetSleepOutcomeAsync(new SleepOutcomeRequest { Key = key, WaitMillis = 5_000 }).ResponseAsync.DefaultTimeout();
        Assert.Equal("completed", outcome.Outcome);
        Assert.Equal(2, interceptor.Calls);
    }

    [Fact]
    public async Task Listen_HttpsWithoutCertificate_ThrowsNamingTheOption()
    {
        await using var server = new RpcServer();
        var ex = Assert.Throws<ArgumentException>(() => server.Listen("https://127.0.0.1:0"));
        Assert.Contains("HttpsCertificate", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1")]
    [InlineData("http://example.com:80")]
    [InlineData("http://127.0.0.1:80/path")]
    public async Task Listen_BadHttpAddress_ThrowsArgumentException(string address)
    {
        await using var server = new RpcServer();
        Assert.Throws<ArgumentException>(() => server.Listen(address));
    }

    [Fact]
    public async Task Shutdown_HttpCallInFlight_FinishesThenNewCallsFail()
    {
        var server = await StartAsync("http://127.0.0.1:0");
        using var channel = GrpcChannel.ForAddress(server.BoundAddresses[0]);
        var client = new TestService.TestServiceClient(channel);
        using var call = client.SleepAsync(new SleepRequest { Key = Guid.NewGuid().ToString(), Millis = 500 });
        await call.ResponseHeadersAsync.DefaultTimeout();
        var stopping = server.ShutdownAsync();
        await call.ResponseAsync.DefaultTimeout();
        await stopping.DefaultTimeout();
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
    }

    [Fact]
    public async Task Shutdown_HttpCallOutlivesTimeout_EndsUnavailable()
    {
        var server = await StartAsync(new RpcServerOptions { ShutdownTimeout = TimeSpan.FromMilliseconds(200) }, "http://127.0.0.1:0");
        using var channel = GrpcChannel.ForAddress(server.BoundAddresses[0]);
        using var call = new TestService.TestServiceClient(channel).SleepAsync(new SleepRequest { Key = Guid.NewGuid().ToString(), Millis = 60_000 });
        await call.ResponseHeadersAsync.DefaultTimeout();
        await server.ShutdownAsync().DefaultTimeout();
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Equal("The server shut down before the call finished.", ex.Status.Detail);
    }

    [Fact]
    public async Task LocalOnlyServer_ServingCalls_LoadsNothingOfAspNet()
    {
        await using var server = await ServerProcess.StartAsync("unix://" + TestPaths.NewSocketPath(), "--print-assemblies");
        await using (var channel = Rpc.Client.RpcChannel.ForAddress(server.Address))
        {
            await new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        }

        var stopping = server.Process.TerminateAsync();
        var line = await server.Process.WaitForLineAsync("ASSEMBLIES ");
        await stopping.DefaultTimeout();
        var loaded = line["ASSEMBLIES ".Length..].Split(',');
        Assert.Contains("Rpc.Server", loaded);
        Assert.DoesNotContain(loaded, name => name.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal) || name.StartsWith("Grpc.AspNetCore", StringComparison.Ordinal));
    }

    internal static Task<RpcServer> StartAsync(params string[] addresses) => StartAsync(new RpcServerOptions(), addresses);

    internal static async Task<RpcServer> StartAsync(RpcServerOptions options, params string[] addresses)
    {
        var server = new RpcServer(options);
        server.AddService(new ConformanceService());
        foreach (var address in addresses)
        {
            server.Listen(address);
        }

        await server.StartAsync().DefaultTimeout();
        return server;
    }

    private sealed class CountingInterceptor : Interceptor
    {
        private int _calls;

        public int Calls => _calls;

        public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
        {
            Interlocked.Increment(ref _calls);
            return continuation(request, context);
        }
    }
}

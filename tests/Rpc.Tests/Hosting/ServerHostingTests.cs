using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.TestServer;
using Xunit;

namespace Rpc.Tests.Hosting;

/// <summary>AddRpcServer: per-call activation from the container and the hosted server's start and stop.</summary>
public sealed class ServerHostingTests
{
    private const int CallCount = 3;

    [Fact]
    public async Task AddService_Scoped_NewInstanceAndScopePerCallDisposedAfterEach()
    {
        await using var host = await LifetimeHost.StartAsync(services => services.AddScoped<LifetimeService>());

        await host.CallAsync(CallCount);

        Assert.Equal(CallCount, host.Tracker.Services.Distinct().Count());
        Assert.All(host.Tracker.Services, s => Assert.Equal(1, s.Calls));
        // The scope ends with the handler, before the status is sent: every call's is gone by now.
        Assert.Equal(CallCount, host.Tracker.DisposedServices);
        Assert.Equal(CallCount, host.Tracker.DisposedDependencies);
    }

    [Fact]
    public async Task AddService_Transient_NewInstancePerCallDisposedAfterEach()
    {
        await using var host = await LifetimeHost.StartAsync(services => services.AddTransient<LifetimeService>());

        await host.CallAsync(CallCount);

        Assert.Equal(CallCount, host.Tracker.Services.Distinct().Count());
        Assert.Equal(CallCount, host.Tracker.DisposedServices);
    }

    [Fact]
    public async Task AddService_Singleton_OneInstanceForEveryCall()
    {
        await using var host = await LifetimeHost.StartAsync(services =>
            services.AddSingleton(sp => new LifetimeService(sp.GetRequiredService<LifetimeTracker>(), new ScopedDependency(sp.GetRequiredService<LifetimeTracker>()))));

        await host.CallAsync(CallCount);

        var service = Assert.Single(host.Tracker.Services);
        Assert.Equal(CallCount, service.Calls);
        Assert.Equal(0, host.Tracker.DisposedServices);
    }

    [Fact]
    public async Task AddService_NotRegistered_CreatedWithDependenciesPerCallAndDisposed()
    {
        await using var host = await LifetimeHost.StartAsync(_ => { });

        await host.CallAsync(CallCount);

        Assert.Equal(CallCount, host.Tracker.Services.Distinct().Count());
        Assert.Equal(CallCount, host.Tracker.DisposedServices);
        Assert.Equal(CallCount, host.Tracker.DisposedDependencies);
    }

    [Fact]
    public async Task AddService_StreamingCall_ScopeLivesUntilTheHandlerReturns()
    {
        var address = "unix://" + TestPaths.NewSocketPath();
        var tracker = new LifetimeTracker();
        await using var host = await TestHost.StartAsync(services =>
        {
            services.AddSingleton(tracker).AddScoped<ScopedDependency>().AddScoped<LifetimeService>();
            services.AddRpcServer().AddService<LifetimeService>().Listen(address);
        });
        using var channel = RpcChannel.ForAddress(address);
        var client = new TestService.TestServiceClient(channel);
        var request = new StreamingOutputCallRequest();
        request.ResponseParameters.Add(Enumerable.Range(0, 5).Select(_ => new ResponseParameters()));

        using var call = client.StreamingOutputCall(request);
        var received = 0;
        while (await call.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
        {
            received++;
        }

        Assert.Equal(5, received);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal(1, tracker.DisposedDependencies);
    }

    [Fact]
    public async Task AddService_EveryMethodKind_ServedThroughActivation()
    {
        var address = "unix://" + TestPaths.NewSocketPath();
        await using var host = await TestHost.StartAsync(services =>
            services.AddRpcServer().AddService<ConformanceService>().Listen(address));
        using var channel = RpcChannel.ForAddress(address);
        var client = new TestService.TestServiceClient(channel);

        var unary = await client.UnaryCallAsync(new SimpleRequest { ResponseSize = 7 }).ResponseAsync.DefaultTimeout();
        Assert.Equal(7, unary.Payload.Body.Length);

        var output = new StreamingOutputCallRequest();
        output.ResponseParameters.Add(new ResponseParameters { Size = 3 });
        output.ResponseParameters.Add(new ResponseParameters { Size = 4 });
        using (var serverStreaming = client.StreamingOutputCall(output))
        {
            var sizes = new List<int>();
            while (await serverStreaming.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
            {
                sizes.Add(serverStreaming.ResponseStream.Current.Payload.Body.Length);
            }

            Assert.Equal([3, 4], sizes);
        }

        using (var clientStreaming = client.StreamingInputCall())
        {
            await clientStreaming.RequestStream.WriteAsync(new StreamingInputCallRequest { Payload = new Payload { Body = Google.Protobuf.ByteString.CopyFrom(new byte[5]) } }).DefaultTimeout();
            await clientStreaming.RequestStream.WriteAsync(new StreamingInputCallRequest { Payload = new Payload { Body = Google.Protobuf.ByteString.CopyFrom(new byte[6]) } }).DefaultTimeout();
            await clientStreaming.RequestStream.CompleteAsync().DefaultTimeout();
            Assert.Equal(11, (await clientStreaming.ResponseAsync.DefaultTimeout()).AggregatedPayloadSize);
        }

        using var duplex = client.FullDuplexCall();
        var echo = new StreamingOutputCallRequest();
        echo.ResponseParameters.Add(new ResponseParameters { Size = 9 });
        await duplex.RequestStream.WriteAsync(echo).DefaultTimeout();
        Assert.True(await duplex.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal(9, duplex.ResponseStream.Current.Payload.Body.Length);
        await duplex.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.False(await duplex.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());

        var thrown = await Assert.ThrowsAsync<RpcException>(() => client.ThrowAsync(new ThrowRequest { Message = "boom" }).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unknown, thrown.StatusCode);
    }

    [Fact]
    public async Task AddInterceptor_FromTheContainer_RunsAroundEveryCall()
    {
        var address = "unix://" + TestPaths.NewSocketPath();
        var counter = new CountingServerInterceptor();
        await using var host = await TestHost.StartAsync(services =>
        {
            services.AddSingleton(counter);
            services.AddRpcServer().AddService<ConformanceService>().Listen(address)
                .AddHealthChecks().AddInterceptor<CountingServerInterceptor>().AddInterceptor<TokenServerInterceptor>();
        });
        using var channel = RpcChannel.ForAddress(address);
        var client = new TestService.TestServiceClient(channel);

        var refused = await Assert.ThrowsAsync<RpcException>(() => client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());
        await client.EmptyCallAsync(new Empty(), new Metadata { { "x-token", "t" } }).ResponseAsync.DefaultTimeout();

        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        // The counter is outermost: it saw the refused call too.
        Assert.Equal(2, counter.Calls);
    }

    [Fact]
    public void AddService_NotAGeneratedService_ThrowsNamingTheType()
    {
        var services = new ServiceCollection();

        var error = Assert.Throws<ArgumentException>(() => services.AddRpcServer().AddService<LifetimeTracker>());

        Assert.Contains(nameof(LifetimeTracker), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddService_SameServiceTwice_ServedOnce()
    {
        var address = "unix://" + TestPaths.NewSocketPath();
        await using var host = await TestHost.StartAsync(services =>
            services.AddRpcServer().AddService<ConformanceService>().AddService<ConformanceService>().Listen(address));
        using var channel = RpcChannel.ForAddress(address);

        await new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    [Fact]
    public async Task HostStop_CallInFlight_FinishesAndLaterCallsAreRefused()
    {
        var address = "unix://" + TestPaths.NewSocketPath();
        var host = await TestHost.StartAsync(services =>
            services.AddRpcServer(o => o.ShutdownTimeout = TimeSpan.FromSeconds(15)).AddService<ConformanceService>().Listen(address));
        try
        {
            using var channel = RpcChannel.ForAddress(address);
            var client = new TestService.TestServiceClient(channel);
            using var sleeping = client.SleepAsync(new SleepRequest { Key = "in-flight", Millis = 1000 });
            // The handler has started once its headers arrive.
            await sleeping.ResponseHeadersAsync.DefaultTimeout();

            var stopping = host.Host.StopAsync();
            await sleeping.ResponseAsync.DefaultTimeout();
            await stopping.DefaultTimeout();

            Assert.Equal(StatusCode.OK, sleeping.GetStatus().StatusCode);
            var refused = await Assert.ThrowsAsync<RpcException>(() => client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());
            Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        }
        finally
        {
            await host.DisposeAsync();
        }
    }

    [Fact]
    public async Task HostStart_ServerFromContainer_ReportsBoundAddresses()
    {
        await using var host = await TestHost.StartAsync(services =>
            services.AddRpcServer().AddService<ConformanceService>().Listen("tcp://127.0.0.1:0"));

        var server = host.Services.GetRequiredService<RpcServer>();
        var bound = Assert.Single(server.BoundAddresses);
        using var channel = RpcChannel.ForAddress(bound);
        await new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    [Fact]
    public async Task HostStart_NoAddress_FailsSayingHowToAddOne()
    {
        var builder = TestHost.CreateBuilder();
        builder.Services.AddRpcServer().AddService<ConformanceService>();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestHost.StartAsync(builder));

        Assert.Contains("Listen", error.Message, StringComparison.Ordinal);
    }
}

using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Rpc.Client;
using Rpc.Tests.Infrastructure;
using Rpc.TestServer;
using Xunit;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace Rpc.Tests.Hosting;

/// <summary>AddHealthChecks: grpc.health.v1 following Microsoft.Extensions.Diagnostics.HealthChecks, on every transport.</summary>
public sealed class HealthTests
{
    public static TheoryData<string> Transports => HostedTransports.All;

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Check_FollowsTheRegisteredHealthChecks(string transport)
    {
        var check = new SwitchableHealthCheck();
        await using var host = await StartAsync(transport, check);
        using var channel = RpcChannel.ForAddress(HostedTransports.BoundAddress(host));
        var health = new Health.HealthClient(channel);

        Assert.Equal(ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest()).ResponseAsync.DefaultTimeout()).Status);
        Assert.Equal(ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest { Service = "rpc.testing.TestService" }).ResponseAsync.DefaultTimeout()).Status);

        check.Status = HealthStatus.Degraded;
        Assert.Equal(ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest()).ResponseAsync.DefaultTimeout()).Status);

        check.Status = HealthStatus.Unhealthy;
        Assert.Equal(ServingStatus.NotServing, (await health.CheckAsync(new HealthCheckRequest()).ResponseAsync.DefaultTimeout()).Status);
        Assert.Equal(ServingStatus.NotServing, (await health.CheckAsync(new HealthCheckRequest { Service = "rpc.testing.TestService" }).ResponseAsync.DefaultTimeout()).Status);

        var unknown = await Assert.ThrowsAsync<RpcException>(() => health.CheckAsync(new HealthCheckRequest { Service = "no.Such" }).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Watch_StreamsEachChange(string transport)
    {
        var check = new SwitchableHealthCheck();
        await using var host = await StartAsync(transport, check);
        using var channel = RpcChannel.ForAddress(HostedTransports.BoundAddress(host));
        using var cancel = new CancellationTokenSource();
        using var watch = new Health.HealthClient(channel).Watch(new HealthCheckRequest(), cancellationToken: cancel.Token);

        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal(ServingStatus.Serving, watch.ResponseStream.Current.Status);

        check.Status = HealthStatus.Unhealthy;
        // The publisher reports every second; statuses until then may repeat SERVING.
        await ReadUntilAsync(watch.ResponseStream, ServingStatus.NotServing);
        check.Status = HealthStatus.Healthy;
        await ReadUntilAsync(watch.ResponseStream, ServingStatus.Serving);

        await cancel.CancelAsync();
        var ended = await Assert.ThrowsAsync<RpcException>(() => watch.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.Cancelled, ended.StatusCode);
    }

    [Fact]
    public async Task Watch_HostStops_NotServingBeforeTheStreamEnds()
    {
        var address = "unix://" + TestPaths.NewSocketPath();
        var host = await TestHost.StartAsync(services =>
            services.AddRpcServer(o => o.ShutdownTimeout = TimeSpan.FromSeconds(1)).AddService<ConformanceService>().Listen(address)
                .AddHealthChecks().AddCheck("switch", new SwitchableHealthCheck()));
        try
        {
            using var channel = RpcChannel.ForAddress(address);
            using var watch = new Health.HealthClient(channel).Watch(new HealthCheckRequest());
            Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
            Assert.Equal(ServingStatus.Serving, watch.ResponseStream.Current.Status);

            var stopping = host.Host.StopAsync();
            await ReadUntilAsync(watch.ResponseStream, ServingStatus.NotServing);
            await stopping.DefaultTimeout();

            // The watch outlived the shutdown timeout, so the server ended it.
            var ended = await Assert.ThrowsAsync<RpcException>(() => watch.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
            Assert.Equal(StatusCode.Unavailable, ended.StatusCode);
        }
        finally
        {
            await host.DisposeAsync();
        }
    }

    [Fact]
    public async Task Watch_UnknownService_ServiceUnknown()
    {
        await using var host = await StartAsync("unix", new SwitchableHealthCheck());
        using var channel = RpcChannel.ForAddress(HostedTransports.BoundAddress(host));
        using var cancel = new CancellationTokenSource();
        using var watch = new Health.HealthClient(channel).Watch(new HealthCheckRequest { Service = "no.Such" }, cancellationToken: cancel.Token);

        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        Assert.Equal(ServingStatus.ServiceUnknown, watch.ResponseStream.Current.Status);
        await cancel.CancelAsync();
    }

    [Fact]
    public async Task Check_MappedToTaggedChecks_FollowsOnlyThose()
    {
        var address = "unix://" + TestPaths.NewSocketPath();
        var database = new SwitchableHealthCheck();
        var cache = new SwitchableHealthCheck();
        await using var host = await TestHost.StartAsync(services =>
            services.AddRpcServer().AddService<ConformanceService>().Listen(address)
                .AddHealthChecks(o => o.Map("db", (_, tags) => tags.Contains("db")))
                .AddCheck("database", database, tags: ["db"])
                .AddCheck("cache", cache));
        using var channel = RpcChannel.ForAddress(address);
        var health = new Health.HealthClient(channel);

        cache.Status = HealthStatus.Unhealthy;

        Assert.Equal(ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest { Service = "db" }).ResponseAsync.DefaultTimeout()).Status);
        Assert.Equal(ServingStatus.NotServing, (await health.CheckAsync(new HealthCheckRequest()).ResponseAsync.DefaultTimeout()).Status);
    }

    [Fact]
    public async Task Check_NoHealthChecks_Unknown()
    {
        var address = "unix://" + TestPaths.NewSocketPath();
        await using var host = await TestHost.StartAsync(services =>
            services.AddRpcServer().AddService<ConformanceService>().Listen(address).AddHealthChecks());
        using var channel = RpcChannel.ForAddress(address);

        var response = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest()).ResponseAsync.DefaultTimeout();

        // As Grpc.AspNetCore.HealthChecks: no check selected says nothing either way.
        Assert.Equal(ServingStatus.Unknown, response.Status);
    }

    private static Task<TestHost> StartAsync(string transport, SwitchableHealthCheck check) =>
        TestHost.StartAsync(services =>
        {
            services.Configure<HealthCheckPublisherOptions>(o =>
            {
                o.Delay = TimeSpan.Zero;
                o.Period = TimeSpan.FromSeconds(1);
            });
            services.AddRpcServer()
                .AddService<ConformanceService>()
                .Listen(HostedTransports.NewAddress(transport))
                .AddHealthChecks()
                .AddCheck("switch", check);
        });

    private static async Task ReadUntilAsync(IAsyncStreamReader<HealthCheckResponse> stream, ServingStatus status)
    {
        using var bound = new CancellationTokenSource(Rpc.Tests.Infrastructure.TaskExtensions.DefaultTimeoutSpan);
        while (await stream.MoveNext(bound.Token))
        {
            if (stream.Current.Status == status)
            {
                return;
            }
        }

        Assert.Fail($"The watch ended before reporting {status}.");
    }
}

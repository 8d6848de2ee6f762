using System.Net;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.TestServer;
using Xunit;

namespace Rpc.Tests.Http;

/// <summary>
/// The other way round: an ASP.NET Core app's own Kestrel serves a gRPC service with
/// MapGrpcService, and an RpcServer adds a Unix socket and shared memory for the same DI instance.
/// </summary>
public sealed class ServerAspNetAppTests
{
    [Fact]
    public async Task AspNetApp_RpcServerAddsLocalTransports_SameServiceInstanceOnAll()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton<ConformanceService>();
        await using var app = builder.Build();
        app.MapGrpcService<ConformanceService>();
        await app.StartAsync().DefaultTimeout();

        var path = TestPaths.NewSocketPath();
        var shm = $"shm://rpct-{Guid.NewGuid():N}";
        await using var rpc = new RpcServer();
        rpc.AddService(app.Services.GetRequiredService<ConformanceService>()).Listen("unix://" + path).Listen(shm);
        await rpc.StartAsync().DefaultTimeout();

        try
        {
            // A Sleep call's outcome is kept by the service instance: recorded through the app's
            // Kestrel, it is read back over both of the RpcServer's transports.
            var key = Guid.NewGuid().ToString();
            using (var http = GrpcChannel.ForAddress(app.Urls.Single()))
            {
                await new TestService.TestServiceClient(http).SleepAsync(new SleepRequest { Key = key, Millis = 1 }).ResponseAsync.DefaultTimeout();
            }

            foreach (var address in new[] { "unix://" + path, shm })
            {
                await using var local = RpcChannel.ForAddress(address);
                var outcome = await new TestService.TestServiceClient(local).GetSleepOutcomeAsync(new SleepOutcomeRequest { Key = key, WaitMillis = 5_000 }).ResponseAsync.DefaultTimeout();
                Assert.Equal("completed", outcome.Outcome);
            }
        }
        finally
        {
            await rpc.ShutdownAsync().DefaultTimeout();
            await app.StopAsync().DefaultTimeout();
        }
    }
}

using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Rpc.Server;

namespace Rpc.Benchmarks;

/// <summary>
/// The server process: the same service on Rpc (every transport, and its embedded Kestrel's
/// http:// endpoint as rpc-http) and on stock grpc-dotnet
/// (Kestrel, HTTP/2 over a Unix socket and over loopback TCP). Prints one "TARGET name address" line
/// each, then "READY", and serves until stdin closes.
/// </summary>
public static class BenchmarkServer
{
    public static async Task RunAsync(string directory)
    {
        var name = $"bench-{Environment.ProcessId}";
        var rpcAddresses = new Dictionary<string, string>
        {
            ["rpc-unix"] = $"unix://{Path.Combine(directory, name + ".sock")}",
            ["rpc-shm"] = $"shm://{name}",
            ["rpc-mq"] = $"mq://{name}",
            ["rpc-pipe"] = $"pipe://{name}",
            ["rpc-tcp"] = "tcp://127.0.0.1:0",
            ["rpc-http"] = "http://127.0.0.1:0",
        };

        // As for Kestrel below: the default of 100 calls per connection would queue the idle-streams scenario.
        await using var rpc = new RpcServer(new RpcServerOptions { MaxReceiveMessageSize = MessageLimits.MaxMessageSize, MaxSendMessageSize = MessageLimits.MaxMessageSize, MaxConcurrentCallsPerConnection = 10_000 });
        rpc.AddService(new BenchService());
        // The load tool reads the process's allocated bytes through it (over rpc-unix) around a measurement.
        rpc.AddService(new BenchStatsService());
        foreach (var address in rpcAddresses.Values)
        {
            rpc.Listen(address);
        }

        await rpc.StartAsync();

        // UnsafePreferInlineScheduling (docs/scheduling.md): a server of its own, since the option is
        // the server's; the load tool turns it on for its channel too from the "-inline" name.
        var inlineAddresses = new Dictionary<string, string>
        {
            ["rpc-unix-inline"] = $"unix://{Path.Combine(directory, name + "-inline.sock")}",
            ["rpc-shm-inline"] = $"shm://{name}-inline",
        };
        await using var rpcInline = new RpcServer(new RpcServerOptions
        {
            MaxReceiveMessageSize = MessageLimits.MaxMessageSize,
            MaxSendMessageSize = MessageLimits.MaxMessageSize,
            MaxConcurrentCallsPerConnection = 10_000,
            UnsafePreferInlineScheduling = true,
        });
        rpcInline.AddService(new BenchService());
        foreach (var address in inlineAddresses.Values)
        {
            rpcInline.Listen(address);
        }

        await rpcInline.StartAsync();

        var grpcSocket = Path.Combine(directory, name + "-grpc.sock");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = MessageLimits.MaxMessageSize;
            o.MaxSendMessageSize = MessageLimits.MaxMessageSize;
        });
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // Kestrel's default of 100 streams per connection would queue the idle-streams scenario.
            kestrel.Limits.Http2.MaxStreamsPerConnection = 10_000;
            kestrel.ListenUnixSocket(grpcSocket, listen => listen.Protocols = HttpProtocols.Http2);
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2);
        });
        await using var app = builder.Build();
        app.MapGrpcService<BenchService>();
        await app.StartAsync();
        var tcpUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First(a => a.StartsWith("http://127.0.0.1", StringComparison.Ordinal));

        foreach (var (target, address) in rpcAddresses)
        {
            var bound = rpc.BoundAddresses.First(b => b.StartsWith(address.Split(':')[0] + ":", StringComparison.Ordinal));
            // Our server's standard-gRPC endpoint, driven by stock Grpc.Net.Client like the grpc-* targets.
            Console.WriteLine(target == "rpc-http" ? $"TARGET {target} grpc+{bound}" : $"TARGET {target} {bound}");
        }

        foreach (var (target, address) in inlineAddresses)
        {
            Console.WriteLine($"TARGET {target} {rpcInline.BoundAddresses.First(b => b.StartsWith(address.Split(':')[0] + ":", StringComparison.Ordinal))}");
        }

        Console.WriteLine($"TARGET grpc-uds grpc+unix://{grpcSocket}");
        Console.WriteLine($"TARGET grpc-tcp grpc+{tcpUrl}");
        Console.WriteLine("READY");
        await Console.In.ReadToEndAsync();
        await app.StopAsync();
        await rpc.ShutdownAsync();
        await rpcInline.ShutdownAsync();
        File.Delete(grpcSocket);
    }
}

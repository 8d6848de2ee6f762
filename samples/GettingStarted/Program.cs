using GettingStarted;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// The one string that picks the transport: a Unix socket by default; "shm://greeter" for shared memory.
var address = args.Length > 0 ? args[0] : "unix:///tmp/greeter.sock";

var builder = Host.CreateApplicationBuilder();
builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);

// The server: GreeterService activated per call from DI, listening on the address.
builder.Services.AddRpcServer()
    .AddService<GreeterService>()
    .Listen(address);

// The client: the generated Greeter.GreeterClient, injected, over a channel to the same address.
builder.Services.AddRpcClient<Greeter.GreeterClient>(address);

using var host = builder.Build();
await host.StartAsync();

var client = host.Services.GetRequiredService<Greeter.GreeterClient>();

var reply = await client.SayHelloAsync(new HelloRequest { Name = "world" }, deadline: DateTime.UtcNow.AddSeconds(5));
Console.WriteLine($"{address} unary: {reply.Message}");

using var call = client.SayHellos(new HelloRequest { Name = "stream" }, deadline: DateTime.UtcNow.AddSeconds(5));
await foreach (var message in call.ResponseStream.ReadAllAsync())
{
    Console.WriteLine($"{address} stream: {message.Message}");
}

// Graceful: calls in flight finish first; the token bounds the wait.
using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(10));
await host.StopAsync(stopping.Token);

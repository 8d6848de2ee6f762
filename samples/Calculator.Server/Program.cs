using System.Runtime.InteropServices;
using Calculator.Server;
using Microsoft.Extensions.Logging;
using Rpc.Server;

// Usage: Calculator.Server [address ...]
// By default it listens on every same-host transport at once, and on loopback TCP; the client
// picks one with its address argument. (tcps:// needs a certificate: see the README.)
var addresses = args.Length > 0 ? args :
[
    "unix:///tmp/rpc-calculator.sock",
    "pipe://rpc-calculator",
    "shm://rpc-calculator",
    "tcp://127.0.0.1:50051",
];

using var loggerFactory = LoggerFactory.Create(builder => builder.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));
await using var server = new RpcServer(new RpcServerOptions { LoggerFactory = loggerFactory });
server.AddService(new CalculatorService());
foreach (var address in addresses)
{
    server.Listen(address);
}

// Ctrl+C and SIGTERM both stop gracefully: calls in flight finish and the socket file is removed.
var stop = new TaskCompletionSource();
using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

await server.StartAsync();
Console.WriteLine($"Calculator listening on {string.Join(", ", server.BoundAddresses)}. Ctrl+C stops it.");
await stop.Task;

await server.ShutdownAsync();
Console.WriteLine("Calculator stopped.");

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    stop.TrySetResult();
}

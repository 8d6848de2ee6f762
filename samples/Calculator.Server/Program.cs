using System.Runtime.InteropServices;
using Calculator.Server;
using Microsoft.Extensions.Logging;
using Rpc.Server;

// Usage: Calculator.Server [address ...]   (default: unix:///tmp/rpc-calculator.sock)
var addresses = args.Length > 0 ? args : ["unix:///tmp/rpc-calculator.sock"];

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

using Calculator.Protos;
using Calculator.Server;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Rpc.Transports.Diagnostics;
using CalculatorClient = Calculator.Protos.Calculator.CalculatorClient;

// Two calls through a server and a client in one process, with the OpenTelemetry SDK printing
// Rpc's spans as they end and its metrics when the app stops. Any transport: pass the address.
var address = args.Length > 0 ? args[0] : "unix:///tmp/telemetry-console.sock";

var builder = Host.CreateApplicationBuilder();
builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);

// The ActivitySource and Meter names are "Rpc.Client" and "Rpc.Server" (RpcTelemetry's constants).
builder.Services.AddOpenTelemetry()
    .ConfigureResource(resource => resource.AddService("TelemetryConsole"))
    .WithTracing(tracing => tracing
        .AddSource(RpcTelemetry.ClientName, RpcTelemetry.ServerName)
        .AddConsoleExporter())
    .WithMetrics(metrics => metrics
        // The duration histograms advise second-scale buckets (10 µs to 10 s); the SDK takes them.
        .AddMeter(RpcTelemetry.ClientName, RpcTelemetry.ServerName)
        .AddConsoleExporter());

builder.Services.AddRpcServer()
    .AddService<CalculatorService>()
    .Listen(address);
builder.Services.AddRpcClient<CalculatorClient>(address);

using (var host = builder.Build())
{
    await host.StartAsync();
    var calculator = host.Services.GetRequiredService<CalculatorClient>();

    var sum = await calculator.AddAsync(new BinaryRequest { A = 2, B = 3 }, deadline: DateTime.UtcNow.AddSeconds(5));
    Console.WriteLine($"2 + 3 = {sum.Value}");

    // A failed call: its spans carry error.type and the status code.
    try
    {
        await calculator.DivideAsync(new BinaryRequest { A = 1, B = 0 }, deadline: DateTime.UtcNow.AddSeconds(5));
    }
    catch (RpcException ex)
    {
        Console.WriteLine($"1 / 0: {ex.StatusCode}");
    }

    using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(10));
    await host.StopAsync(stopping.Token);
}

// Disposing the host disposed the meter provider, whose last collection printed the metrics above.

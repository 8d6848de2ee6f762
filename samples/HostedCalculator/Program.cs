using Calculator.Server;
using HostedCalculator;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using CalculatorClient = Calculator.Protos.Calculator.CalculatorClient;

// One string picks the transport: --Calculator:Address shm://hosted-calculator (or pipe://, tcp://127.0.0.1:5000).
// Server settings come from the "Rpc:Server" section of appsettings.json, the environment
// (Rpc__Server__ShutdownTimeout=00:00:10) or the command line, as for any .NET host.
// The content root is the program's folder, so appsettings.json is found wherever it is started from.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
var address = builder.Configuration["Calculator:Address"] ?? "unix:///tmp/hosted-calculator.sock";

builder.Services.AddRpcServer()
    .AddService<CalculatorService>()
    .Listen(address)
    .AddReflection()
    .AddHealthChecks();

builder.Services.AddRpcClient<CalculatorClient>(address);
builder.Services.AddHostedService<CalculatorCaller>();

await builder.Build().RunAsync();

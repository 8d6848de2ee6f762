using System.Security.Cryptography.X509Certificates;
using Rpc.Transports;
using Rpc.Transports.Tcp;
using Microsoft.Extensions.Logging;
using System.Runtime.InteropServices;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Rpc.Server;
using Rpc.TestServer;

// Usage: Rpc.TestServer <address> [address ...] [--print-assemblies] [--fd-headroom=N] [--max-message=BYTES]
// (N: file descriptors left to open, for EMFILE tests)
// Prints "READY <bound addresses>" once serving; SIGTERM or a closed stdin shuts it down gracefully.
using var loggerFactory = LoggerFactory.Create(builder => builder
    .AddSimpleConsole(o => o.SingleLine = true)
    .SetMinimumLevel(Environment.GetEnvironmentVariable("RPC_TEST_LOG") is null ? LogLevel.Warning : LogLevel.Debug));
var options = new RpcServerOptions { ShutdownTimeout = TimeSpan.FromSeconds(3), LoggerFactory = loggerFactory };
if (Environment.GetEnvironmentVariable("RPC_TEST_CERT") is { } certificatePath)
{
    // tcps:// needs a certificate; the tests hand over a self-signed one.
    options.Transports = TransportRegistry.CreateDefault();
    options.Transports.Register(new TcpTransport(new TcpTransportOptions
    {
        ServerCertificate = X509CertificateLoader.LoadPkcs12FromFile(certificatePath, password: null),
    }));
}

options.Interceptors.Add(new HandlerReportingInterceptor());
options.Interceptors.Add(new TrailerStampingInterceptor());
options.Interceptors.Add(new TraceEchoInterceptor());
options.Interceptors.Add(new AuthorizationEchoInterceptor());
if (args.FirstOrDefault(a => a.StartsWith("--response-compression=", StringComparison.Ordinal)) is { } compression)
{
    options.ResponseCompressionAlgorithm = compression["--response-compression=".Length..];
}
if (args.FirstOrDefault(a => a.StartsWith("--max-message=", StringComparison.Ordinal)) is { } maxMessage)
{
    // For the large-message tests (issue 13): both limits raised together.
    options.MaxReceiveMessageSize = options.MaxSendMessageSize = int.Parse(maxMessage["--max-message=".Length..], System.Globalization.CultureInfo.InvariantCulture);
}

await using var server = new RpcServer(options);
server.AddService(new ConformanceService());
// For the rpc tool's tests (issue 12): reflection (v1alpha; the tool falls back to it from v1) and health.
server.AddService(new Grpc.Reflection.ReflectionServiceImpl(
    Rpc.Testing.TestService.Descriptor, Grpc.Reflection.V1Alpha.ServerReflection.Descriptor, Grpc.Health.V1.Health.Descriptor));
var health = new Grpc.HealthCheck.HealthServiceImpl();
health.SetStatus("", Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving);
health.SetStatus("rpc.testing.TestService", Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving);
health.SetStatus("rpc.testing.Draining", Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.NotServing);
server.AddService(health);
var asChild = args is ["--parent-pipes"];
foreach (var address in args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)))
{
    server.Listen(address);
}

if (asChild)
{
    server.ListenOnParentPipes();
}

// Registered before READY, so a test that stops the server at once still gets a graceful stop.
var stop = new TaskCompletionSource();
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.TrySetResult();
});

await server.StartAsync();
if (asChild)
{
    // A child serves its parent until the parent lets go of the pipes.
    await server.ParentDisconnected;
    await server.ShutdownAsync();
    return;
}

if (args.FirstOrDefault(a => a.StartsWith("--fd-headroom=", StringComparison.Ordinal)) is { } headroom)
{
    FileDescriptorLimit.LowerTo(int.Parse(headroom["--fd-headroom=".Length..], System.Globalization.CultureInfo.InvariantCulture));
}

Console.WriteLine("READY " + string.Join(' ', server.BoundAddresses));

_ = Task.Run(() =>
{
    Console.In.ReadToEnd();
    stop.TrySetResult();
});
await stop.Task;
await server.ShutdownAsync();
if (args.Contains("--print-assemblies"))
{
    // Lets a test check that a server without http addresses never loaded ASP.NET, calls served and all.
    Console.WriteLine("ASSEMBLIES " + string.Join(',', AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name)));
}

Console.WriteLine("STOPPED");

/// <summary>Proves server interceptors run: stamps a trailer on every unary call.</summary>
internal sealed class TrailerStampingInterceptor : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        context.ResponseTrailers.Add("x-intercepted", "yes");
        return await continuation(request, context);
    }
}

/// <summary>
/// Lets credential and compression tests see what reached the server: echoes a unary call's
/// <c>authorization</c> and <c>grpc-encoding</c> headers as <c>x-authorization</c> and <c>x-request-encoding</c> trailers.
/// </summary>
internal sealed class AuthorizationEchoInterceptor : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        if (context.RequestHeaders.GetValue("authorization") is { } authorization)
        {
            context.ResponseTrailers.Add("x-authorization", authorization);
        }

        if (context.RequestHeaders.GetValue("grpc-encoding") is { } encoding)
        {
            context.ResponseTrailers.Add("x-request-encoding", encoding);
        }

        return await continuation(request, context);
    }
}

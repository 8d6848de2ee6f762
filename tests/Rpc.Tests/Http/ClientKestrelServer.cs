using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Rpc.TestServer;

namespace Rpc.Tests.Http;

/// <summary>
/// A stock gRPC server for the client's tests: Kestrel + Grpc.AspNetCore in the test process,
/// serving <see cref="ConformanceService"/> (one instance, so a test can share it with an
/// RpcServer) on a loopback port chosen by the system, or on a Unix socket.
/// </summary>
internal sealed class ClientKestrelServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string? _socketPath;

    private ClientKestrelServer(WebApplication app, string address, string? socketPath)
    {
        _app = app;
        Address = address;
        _socketPath = socketPath;
    }

    /// <summary>The address an RpcChannel reaches it at: <c>http://127.0.0.1:PORT</c>, <c>https://localhost:PORT</c> or <c>http+unix:///path</c>.</summary>
    public string Address { get; }

    /// <summary>Starts it on loopback TCP; <paramref name="responseHeader"/>, when given, is added to every response (as an RpcServer adds its advertisement).</summary>
    public static Task<ClientKestrelServer> StartTcpAsync(ConformanceService service, KeyValuePair<string, string>? responseHeader = null) =>
        StartAsync(service, responseHeader, certificate: null, socketPath: null);

    public static Task<ClientKestrelServer> StartTlsAsync(ConformanceService service, X509Certificate2 certificate) =>
        StartAsync(service, responseHeader: null, certificate, socketPath: null);

    public static Task<ClientKestrelServer> StartUnixAsync(ConformanceService service, string socketPath) =>
        StartAsync(service, responseHeader: null, certificate: null, socketPath);

    private static async Task<ClientKestrelServer> StartAsync(ConformanceService service, KeyValuePair<string, string>? responseHeader, X509Certificate2? certificate, string? socketPath)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            if (socketPath is not null)
            {
                kestrel.ListenUnixSocket(socketPath, listen => listen.Protocols = HttpProtocols.Http2);
            }
            else if (certificate is not null)
            {
                kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(certificate));
            }
            else
            {
                // h2c with prior knowledge, as standard gRPC servers serve plaintext.
                kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2);
            }
        });
        builder.Services.AddGrpc(options => options.EnableDetailedErrors = true);
        builder.Services.AddSingleton(service);
        var app = builder.Build();
        if (responseHeader is { } header)
        {
            // Set before the gRPC handler runs, so it leaves with the first response headers
            // (or with a trailers-only response), wherever the handler writes them.
            app.Use((context, next) =>
            {
                context.Response.Headers[header.Key] = header.Value;
                return next(context);
            });
        }

        app.MapGrpcService<ConformanceService>();
        using var startTimeout = new CancellationTokenSource(Infrastructure.TaskExtensions.DefaultTimeoutSpan);
        await app.StartAsync(startTimeout.Token);
        string address;
        if (socketPath is not null)
        {
            address = "http+unix://" + socketPath;
        }
        else
        {
            var bound = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
            address = certificate is null ? $"http://127.0.0.1:{bound.Port}" : $"https://localhost:{bound.Port}";
        }

        return new ClientKestrelServer(app, address, socketPath);
    }

    public async ValueTask DisposeAsync()
    {
        using var stopTimeout = new CancellationTokenSource(Infrastructure.TaskExtensions.DefaultTimeoutSpan);
        await _app.StopAsync(stopTimeout.Token);
        await _app.DisposeAsync();
        if (_socketPath is not null)
        {
            File.Delete(_socketPath);
        }
    }
}

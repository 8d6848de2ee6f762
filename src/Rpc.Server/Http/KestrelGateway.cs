using System.Net;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Rpc.Server.Internal;
using Rpc.Transports;
using Rpc.Transports.Internal;
using KestrelListenOptions = Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions;

namespace Rpc.Server.Http;

/// <summary>
/// Standard gRPC over HTTP/2 for one <see cref="RpcServer"/>: an embedded Kestrel with
/// Grpc.AspNetCore, whose only service dispatches into the server's own method table. It serves
/// the http(s) addresses given to <see cref="RpcServer.Listen"/> and the connections the local
/// listeners sniff as HTTP/2.
/// </summary>
/// <remarks>
/// Built by the thread that starts the server (or, started lazily, by the first sniffed
/// connection's); <see cref="RpcServer"/> serialises start against stop.
/// </remarks>
internal sealed class KestrelGateway : IHttpGateway
{
    private readonly ServerCallEnvironment _environment;
    private readonly IReadOnlyList<HttpListenAddress> _addresses;
    private readonly HttpCallTracker _calls = new();
    private readonly SniffedConnectionListenerFactory _sniffed = new();
    private readonly List<KestrelListenOptions> _bound = [];
    private readonly CancellationTokenSource _drainEnded = new();
    // The rpc-local-endpoints header value, or null when there is nothing (or nothing allowed) to advertise.
    private readonly string? _advertisement;
    private IHost? _host;
    private Task? _stopping;

    public KestrelGateway(ServerCallEnvironment environment, IReadOnlyList<HttpListenAddress> addresses, IReadOnlyList<string> localEndpoints)
    {
        _environment = environment;
        _addresses = addresses;
        if (environment.Options.AdvertiseLocalEndpoints && localEndpoints.Count > 0 && LocalPeerPolicy.ServerUserId is { } uid)
        {
            _advertisement = new LocalEndpoints(LocalEndpoints.CurrentHostId, uid, localEndpoints).Format();
        }
    }

    public IReadOnlyList<string> BoundAddresses { get; private set; } = [];

    public Task CallsDrained => _calls.Drained;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var host = new HostBuilder()
            .ConfigureWebHost(
                web => web
                    // An embedded server takes its settings from RpcServerOptions only: no
                    // ASPNETCORE_URLS, no hosting-startup assemblies injected through the environment.
                    .UseSetting(WebHostDefaults.PreventHostingStartupKey, "true")
                    .UseKestrel(ConfigureKestrel)
                    .ConfigureServices(ConfigureServices)
                    .Configure(ConfigureApp),
                o => o.SuppressEnvironmentConfiguration = true)
            .ConfigureServices(services =>
            {
                // The server's owner decides when it stops, not SIGTERM through ConsoleLifetime.
                services.AddSingleton<IHostLifetime, EmbeddedLifetime>();
                services.Configure<HostOptions>(o => o.ShutdownTimeout = Timeout.InfiniteTimeSpan);
            })
            .Build();
        try
        {
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            host.Dispose();
            throw;
        }

        _host = host;
        BoundAddresses = [.. _addresses.Select((a, i) => a.Format(_bound[i].IPEndPoint!))];
    }

    private void ConfigureKestrel(KestrelServerOptions kestrel)
    {
        var options = _environment.Options;
        kestrel.AddServerHeader = false;
        kestrel.Limits.Http2.MaxStreamsPerConnection = options.MaxConcurrentCallsPerConnection;
        foreach (var address in _addresses)
        {
            kestrel.Listen(address.EndPoint, listen =>
            {
                if (address.Tls)
                {
                    listen.Protocols = HttpProtocols.Http1AndHttp2;
                    listen.UseHttps(options.HttpsCertificate!);
                }
                else
                {
                    // h2c with prior knowledge: what every gRPC client speaks to an http:// address.
                    listen.Protocols = HttpProtocols.Http2;
                }

                _bound.Add(listen);
            });
        }

        kestrel.Listen(new SniffedEndPoint(), listen => listen.Protocols = HttpProtocols.Http2);
    }

    private void ConfigureServices(IServiceCollection services)
    {
        var options = _environment.Options;
        services.AddSingleton<ILoggerFactory>(options.LoggerFactory ?? NullLoggerFactory.Instance);
        services.AddSingleton<IConnectionListenerFactory>(_sniffed);
        services.AddGrpc(grpc =>
        {
            grpc.EnableDetailedErrors = options.EnableDetailedErrors;
            grpc.MaxReceiveMessageSize = options.MaxReceiveMessageSize;
            grpc.MaxSendMessageSize = options.MaxSendMessageSize;
            grpc.ResponseCompressionAlgorithm = options.ResponseCompressionAlgorithm;
            grpc.ResponseCompressionLevel = options.ResponseCompressionLevel;
            grpc.CompressionProviders = [.. options.CompressionProviders];
        });
        services.AddSingleton(new HttpDispatch(_calls, _environment.Logger));
        services.AddSingleton<IServiceMethodProvider<HttpDispatch>>(new HttpMethodProvider(_environment.Methods));
    }

    private void ConfigureApp(IApplicationBuilder app)
    {
        if (_advertisement is { } advertisement)
        {
            app.Use((context, next) =>
            {
                if (LocalPeers.IsLocal(context))
                {
                    // Set before the handler runs, so it leaves with the response headers.
                    context.Response.Headers[LocalEndpoints.HeaderName] = advertisement;
                }

                return next(context);
            });
        }

        app.UseRouting();
        app.UseEndpoints(endpoints =>
        {
            if (_environment.Methods.All.Any())
            {
                endpoints.MapGrpcService<HttpDispatch>();
            }
        });
    }

    public bool TryAdopt(ITransportConnection connection, TransportAddress listenerAddress)
    {
        if (_stopping is not null)
        {
            return false;
        }

        return _sniffed.TryEnqueue(new SniffedConnection(connection, listenerAddress));
    }

    public void BeginStop()
    {
        // Kestrel stops accepting, sends GOAWAY and waits for the streams in flight until the
        // drain token fires (StopAsync fires it once the server's own bounds have run out).
        _stopping ??= _host?.StopAsync(_drainEnded.Token) ?? Task.CompletedTask;
    }

    public Task AbortCallsAsync(Status status, TimeSpan timeout, CancellationToken cancellationToken) =>
        _calls.AbortAsync(status, timeout, cancellationToken);

    public async Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        BeginStop();
        try
        {
            await _stopping!.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
        }

        // Past the bound: Kestrel aborts the connections still open.
        await _drainEnded.CancelAsync().ConfigureAwait(false);
        await _stopping!.WaitAsync(timeout, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public async ValueTask DisposeAsync()
    {
        await _sniffed.CloseAsync().ConfigureAwait(false);
        if (_host is IAsyncDisposable host)
        {
            await host.DisposeAsync().ConfigureAwait(false);
        }

        _drainEnded.Dispose();
    }

    /// <summary>A host lifetime that neither waits for nor reacts to console signals.</summary>
    private sealed class EmbeddedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

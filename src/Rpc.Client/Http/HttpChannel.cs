using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;

namespace Rpc.Client.Http;

/// <summary>
/// What an <see cref="RpcChannel"/> on an http(s) address holds: a Grpc.Net.Client
/// <see cref="GrpcChannel"/> (standard gRPC over HTTP/2, never our own HTTP/2) and, unless turned
/// off, the same-host upgrade watching its responses.
/// </summary>
internal sealed class HttpChannel : IAsyncDisposable
{
    private readonly GrpcChannel _grpc;
    private readonly SameHostUpgrade? _upgrade;

    private HttpChannel(GrpcChannel grpc, SameHostUpgrade? upgrade, string? requestEncoding)
    {
        _grpc = grpc;
        _upgrade = upgrade;
        var invoker = grpc.CreateCallInvoker().Intercept(new CancelledStatusInterceptor());
        if (requestEncoding is not null)
        {
            invoker = invoker.Intercept(new RequestEncodingInterceptor(requestEncoding));
        }

        Invoker = new HttpCallInvoker(invoker, upgrade);
    }

    public HttpCallInvoker Invoker { get; }

    /// <summary>The standard channel underneath, whose connectivity state is the channel's.</summary>
    public GrpcChannel Grpc => _grpc;

    public static HttpChannel Create(HttpAddress address, RpcChannelOptions options, ILogger logger)
    {
        var ownsHandler = options.HttpHandler is null;
        HttpMessageHandler handler = options.HttpHandler ?? HttpHandlers.Create(address, options);
        SameHostUpgrade? upgrade = null;
        if (options.SameHostUpgrade)
        {
            upgrade = new SameHostUpgrade(address.SocketPath is { } path ? HttpAddress.UnixScheme + path : address.Target.ToString(), options, logger);
            handler = new AdvertisementHandler(upgrade, handler);
        }

        var grpc = GrpcChannel.ForAddress(address.Target, new GrpcChannelOptions
        {
            HttpHandler = handler,
            // A caller's own handler is the caller's to dispose (the wrapper around it holds nothing).
            DisposeHttpClient = ownsHandler,
            MaxSendMessageSize = options.MaxSendMessageSize,
            MaxReceiveMessageSize = options.MaxReceiveMessageSize,
            LoggerFactory = options.LoggerFactory,
            Credentials = options.Credentials,
            UnsafeUseInsecureChannelCallCredentials = options.UnsafeUseInsecureChannelCallCredentials,
            CompressionProviders = [.. options.CompressionProviders],
            ServiceConfig = options.ServiceConfig,
            MaxRetryAttempts = options.MaxRetryAttempts,
            MaxRetryBufferSize = options.MaxRetryBufferSize,
            MaxRetryBufferPerCallSize = options.MaxRetryBufferPerCallSize,
        });
        return new HttpChannel(grpc, upgrade, options.RequestCompressionAlgorithm);
    }

    /// <summary>Closes the local connections (bounded, see <see cref="SameHostUpgrade.DisposeAsync"/>), then the HTTP/2 ones; calls still running fail.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_upgrade is not null)
        {
            await _upgrade.DisposeAsync().ConfigureAwait(false);
        }

        _grpc.Dispose();
    }
}

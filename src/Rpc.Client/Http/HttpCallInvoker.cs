using Grpc.Core;

namespace Rpc.Client.Http;

/// <summary>
/// The invoker of a channel on an http(s) address: each call goes over the same-host upgrade's
/// local connection when one is up and takes calls, else through Grpc.Net.Client. The choice is
/// made per call, when it starts, and a call stays where it started.
/// </summary>
internal sealed class HttpCallInvoker : CallInvoker
{
    private readonly CallInvoker _http;
    private readonly SameHostUpgrade? _upgrade;

    public HttpCallInvoker(CallInvoker http, SameHostUpgrade? upgrade)
    {
        _http = http;
        _upgrade = upgrade;
    }

    private CallInvoker Route() => _upgrade?.TryGetInvoker() ?? _http;

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        using var call = AsyncUnaryCall(method, host, options, request);
        // As grpc-dotnet does: a blocking call blocks on the asynchronous one.
        return call.ResponseAsync.GetAwaiter().GetResult();
    }

    /// <summary>
    /// A unary call holds its whole request, so one the local connection never delivered (the
    /// endpoint went away between the choice and the send) is sent again over HTTP/2; streaming
    /// calls fail as calls in flight do.
    /// </summary>
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        _upgrade?.TryGetInvoker() is { } local
            ? FallbackUnaryCall<TRequest, TResponse>.Start(local, _http, method, host, options, request)
            : _http.AsyncUnaryCall(method, host, options, request);

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        Route().AsyncServerStreamingCall(method, host, options, request);

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        Route().AsyncClientStreamingCall(method, host, options);

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        Route().AsyncDuplexStreamingCall(method, host, options);
}

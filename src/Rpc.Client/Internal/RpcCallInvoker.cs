using Grpc.Core;

namespace Rpc.Client.Internal;

/// <summary>Starts one <see cref="ClientCall{TRequest, TResponse}"/> per RPC and wraps it in Grpc.Core's call types.</summary>
internal sealed class RpcCallInvoker : CallInvoker
{
    private readonly RpcChannel _channel;

    public RpcCallInvoker(RpcChannel channel) => _channel = channel;

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        using var call = AsyncUnaryCall(method, host, options, request);
        // Same as grpc-dotnet: a blocking call blocks on the asynchronous one.
        return call.ResponseAsync.GetAwaiter().GetResult();
    }

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        var call = new ClientCall<TRequest, TResponse>(_channel, method, options);
        call.Start(request);
        return new AsyncUnaryCall<TResponse>(call.GetResponseAsync(), call.GetResponseHeadersAsync(), call.GetStatus, call.GetTrailers, call.Dispose);
    }

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        var call = new ClientCall<TRequest, TResponse>(_channel, method, options);
        call.Start(request);
        return new AsyncServerStreamingCall<TResponse>(call, call.GetResponseHeadersAsync(), call.GetStatus, call.GetTrailers, call.Dispose);
    }

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
    {
        var call = new ClientCall<TRequest, TResponse>(_channel, method, options);
        call.Start(request: null);
        return new AsyncClientStreamingCall<TRequest, TResponse>(call, call.GetResponseAsync(), call.GetResponseHeadersAsync(), call.GetStatus, call.GetTrailers, call.Dispose);
    }

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
    {
        var call = new ClientCall<TRequest, TResponse>(_channel, method, options);
        call.Start(request: null);
        return new AsyncDuplexStreamingCall<TRequest, TResponse>(call, call, call.GetResponseHeadersAsync(), call.GetStatus, call.GetTrailers, call.Dispose);
    }
}

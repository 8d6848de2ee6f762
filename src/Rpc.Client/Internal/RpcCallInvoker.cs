using Grpc.Core;

namespace Rpc.Client.Internal;

/// <summary>Starts one <see cref="ClientCall{TRequest, TResponse}"/> per RPC and wraps it in Grpc.Core's call types.</summary>
internal sealed class RpcCallInvoker : CallInvoker
{
    private readonly ConnectionManager _connections;
    private readonly RpcChannelOptions _options;

    public RpcCallInvoker(ConnectionManager connections, RpcChannelOptions options)
    {
        _connections = connections;
        _options = options;
    }

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        using var call = AsyncUnaryCall(method, host, options, request);
        // Same as grpc-dotnet: a blocking call blocks on the asynchronous one.
        return call.ResponseAsync.GetAwaiter().GetResult();
    }

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        var call = new ClientCall<TRequest, TResponse>(_connections, _options, method, options);
        call.Start(request);
        return new AsyncUnaryCall<TResponse>(call.GetResponseAsync(), CallState.GetResponseHeaders, CallState.GetStatus, CallState.GetTrailers, CallState.Dispose, call);
    }

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        var call = new ClientCall<TRequest, TResponse>(_connections, _options, method, options);
        call.Start(request);
        return new AsyncServerStreamingCall<TResponse>(call, CallState.GetResponseHeaders, CallState.GetStatus, CallState.GetTrailers, CallState.Dispose, call);
    }

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
    {
        var call = new ClientCall<TRequest, TResponse>(_connections, _options, method, options);
        call.Start(request: null);
        return new AsyncClientStreamingCall<TRequest, TResponse>(call, call.GetResponseAsync(), CallState.GetResponseHeaders, CallState.GetStatus, CallState.GetTrailers, CallState.Dispose, call);
    }

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
    {
        var call = new ClientCall<TRequest, TResponse>(_connections, _options, method, options);
        call.Start(request: null);
        return new AsyncDuplexStreamingCall<TRequest, TResponse>(call, call, CallState.GetResponseHeaders, CallState.GetStatus, CallState.GetTrailers, CallState.Dispose, call);
    }
}

/// <summary>Grpc.Core's call wrappers take these with the call as state: cached delegates instead of new ones per call, and headers asked for only when wanted.</summary>
internal static class CallState
{
    public static readonly Func<object, Task<Metadata>> GetResponseHeaders = static call => ((IClientCall)call).ResponseHeadersTask;
    public static readonly Func<object, Status> GetStatus = static call => ((IClientCall)call).GetStatus();
    public static readonly Func<object, Metadata> GetTrailers = static call => ((IClientCall)call).GetTrailers();
    public static readonly Action<object> Dispose = static call => ((IClientCall)call).Dispose();
}

/// <summary>What the call wrappers need of a call, whatever its message types.</summary>
internal interface IClientCall : IDisposable
{
    Task<Metadata> ResponseHeadersTask { get; }

    Status GetStatus();

    Metadata GetTrailers();
}

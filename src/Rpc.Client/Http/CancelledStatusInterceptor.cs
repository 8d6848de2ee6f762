using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Rpc.Client.Http;

/// <summary>
/// Gives a call the caller cancelled (or whose deadline passed) the status gRPC promises for it.
/// With a caller-supplied or wrapped HTTP handler, Grpc.Net.Client now and then reports such a
/// call as Internal ("Error starting gRPC call. ObjectDisposedException"): the cancellation
/// disposes the response while a read is under way, and the library maps only
/// <see cref="OperationCanceledException"/> to Cancelled. Only that exact shape is rewritten;
/// every other status passes through untouched.
/// </summary>
internal sealed class CancelledStatusInterceptor : Interceptor
{
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        var call = continuation(request, context);
        var options = context.Options;
        return new AsyncUnaryCall<TResponse>(Fix(call.ResponseAsync, options), call.ResponseHeadersAsync, () => Fix(call.GetStatus(), options), call.GetTrailers, call.Dispose);
    }

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(ClientInterceptorContext<TRequest, TResponse> context, AsyncClientStreamingCallContinuation<TRequest, TResponse> continuation)
    {
        var call = continuation(context);
        var options = context.Options;
        return new AsyncClientStreamingCall<TRequest, TResponse>(call.RequestStream, Fix(call.ResponseAsync, options), call.ResponseHeadersAsync, () => Fix(call.GetStatus(), options), call.GetTrailers, call.Dispose);
    }

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncServerStreamingCallContinuation<TRequest, TResponse> continuation)
    {
        var call = continuation(request, context);
        var options = context.Options;
        return new AsyncServerStreamingCall<TResponse>(new Reader<TResponse>(call.ResponseStream, options), call.ResponseHeadersAsync, () => Fix(call.GetStatus(), options), call.GetTrailers, call.Dispose);
    }

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(ClientInterceptorContext<TRequest, TResponse> context, AsyncDuplexStreamingCallContinuation<TRequest, TResponse> continuation)
    {
        var call = continuation(context);
        var options = context.Options;
        return new AsyncDuplexStreamingCall<TRequest, TResponse>(call.RequestStream, new Reader<TResponse>(call.ResponseStream, options), call.ResponseHeadersAsync, () => Fix(call.GetStatus(), options), call.GetTrailers, call.Dispose);
    }

    private static async Task<T> Fix<T>(Task<T> response, CallOptions options)
    {
        try
        {
            return await response.ConfigureAwait(false);
        }
        catch (RpcException ex) when (Fixed(ex.Status, options) is { } status)
        {
            throw new RpcException(status, ex.Trailers);
        }
    }

    private static Status Fix(Status status, CallOptions options) => Fixed(status, options) ?? status;

    private static Status? Fixed(Status status, CallOptions options)
    {
        if (status.StatusCode != StatusCode.Internal || status.DebugException is not ObjectDisposedException and not { InnerException: ObjectDisposedException })
        {
            return null;
        }

        if (options.CancellationToken.IsCancellationRequested)
        {
            return new Status(StatusCode.Cancelled, "Call canceled by the client.", status.DebugException);
        }

        return options.Deadline is { } deadline && deadline.ToUniversalTime() <= DateTime.UtcNow
            ? new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded", status.DebugException)
            : null;
    }

    private sealed class Reader<T> : IAsyncStreamReader<T>
    {
        private readonly IAsyncStreamReader<T> _inner;
        private readonly CallOptions _options;

        public Reader(IAsyncStreamReader<T> inner, CallOptions options)
        {
            _inner = inner;
            _options = options;
        }

        public T Current => _inner.Current;

        public Task<bool> MoveNext(CancellationToken cancellationToken) => Fix(_inner.MoveNext(cancellationToken), _options);
    }
}

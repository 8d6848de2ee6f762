using Grpc.Core;

namespace Rpc.Client.Http;

/// <summary>
/// A unary call sent over the same-host upgrade's local connection that is sent again over
/// HTTP/2 when the local side proves it never reached the server: the connection could not be
/// had, or the server's GOAWAY refused the stream (it was above the last stream the server took).
/// Any other failure, and any failure after response headers came, is the call's own.
/// </summary>
/// <remarks>
/// Threads: the decision runs once, on the continuation of the local call's response; every
/// accessor reads <see cref="_final"/>, which it completes, and nothing else is shared.
/// </remarks>
internal sealed class FallbackUnaryCall<TRequest, TResponse>
    where TRequest : class
    where TResponse : class
{
    // Made by ConnectionManager and by the protocol's GOAWAY handling for calls the server never saw.
    private const string ConnectFailedPrefix = "Cannot connect to ";
    private const string RefusedByGoAwayPrefix = "The server is going away: ";

    private readonly AsyncUnaryCall<TResponse> _local;
    private readonly TaskCompletionSource<AsyncUnaryCall<TResponse>> _final = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private FallbackUnaryCall(AsyncUnaryCall<TResponse> local) => _local = local;

    public static AsyncUnaryCall<TResponse> Start(CallInvoker local, CallInvoker http, Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        var call = new FallbackUnaryCall<TRequest, TResponse>(local.AsyncUnaryCall(method, host, options, request));
        var response = call.DecideAsync(http, method, host, options, request);
        return new AsyncUnaryCall<TResponse>(response, call.HeadersAsync(), call.GetStatus, call.GetTrailers, call.Dispose);
    }

    /// <summary>Whether a local failure shows the server never saw the call, so that sending it elsewhere cannot run it twice.</summary>
    /// <remarks>
    /// A local channel that the upgrade dropped (its server went away) refuses calls before they
    /// have a connection: its manager's <see cref="ObjectDisposedException"/>, named after the
    /// channel, is thrown only there.
    /// </remarks>
    internal static bool NeverReachedServer(Status status) =>
        status.StatusCode == StatusCode.Unavailable
        && (status.Detail.StartsWith(ConnectFailedPrefix, StringComparison.Ordinal)
            || status.Detail.StartsWith(RefusedByGoAwayPrefix, StringComparison.Ordinal)
            || status.DebugException is ObjectDisposedException { ObjectName: var disposed } && disposed.StartsWith(Internal.ConnectionManager.DisposedObjectPrefix, StringComparison.Ordinal));

    private async Task<TResponse> DecideAsync(CallInvoker http, Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        try
        {
            await ((Task)_local.ResponseAsync).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            var status = _local.ResponseAsync.IsCompletedSuccessfully ? Status.DefaultSuccess : _local.GetStatus();
            if (NeverReachedServer(status) && !options.CancellationToken.IsCancellationRequested
                && (options.Deadline is not { } deadline || deadline.ToUniversalTime() > DateTime.UtcNow))
            {
                _final.TrySetResult(http.AsyncUnaryCall(method, host, options, request));
            }
            else
            {
                _final.TrySetResult(_local);
            }
        }
        catch (Exception ex)
        {
            // Starting the HTTP/2 call threw (the channel was disposed, say): that is the outcome.
            _final.TrySetException(ex);
        }

        return await (await _final.Task.ConfigureAwait(false)).ResponseAsync.ConfigureAwait(false);
    }

    private async Task<Metadata> HeadersAsync()
    {
        try
        {
            // Headers mean the server took the call: it stays local, and they come at once, not
            // after the response (a handler may send headers and then work a long time).
            return await _local.ResponseHeadersAsync.ConfigureAwait(false);
        }
        catch (RpcException)
        {
            return await (await _final.Task.ConfigureAwait(false)).ResponseHeadersAsync.ConfigureAwait(false);
        }
    }

    private Status GetStatus() => Current.GetStatus();

    private Metadata GetTrailers() => Current.GetTrailers();

    private AsyncUnaryCall<TResponse> Current => _final.Task.IsCompletedSuccessfully ? _final.Task.Result : _local;

    private void Dispose()
    {
        _local.Dispose();
        if (_final.Task.IsCompletedSuccessfully && _final.Task.Result != _local)
        {
            _final.Task.Result.Dispose();
        }
    }
}

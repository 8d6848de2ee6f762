using Grpc.Core;
using Rpc.Client.Internal.Retries;
using Rpc.Transports.Messages;

namespace Rpc.Client.Internal;

/// <summary>
/// Starts each RPC and wraps it in Grpc.Core's call types: unary and server-streaming calls as a
/// <see cref="RetryCall{TPayload, TResponse}"/> (sent again when the server never saw them, and
/// under the method's retry policy), client- and duplex-streaming ones as a <see cref="RetryCall{TPayload, TResponse}"/>
/// under a policy, else as one <see cref="ClientCall{TRequest, TResponse}"/>.
/// </summary>
internal sealed class RpcCallInvoker : CallInvoker
{
    // A local reply comes in 5–20 µs; Task's own spin gives up sooner, and the sleeping caller's
    // wake-up then costs more than the call itself.
    private static readonly long BlockingSpinTicks = System.Diagnostics.Stopwatch.Frequency / 20_000;

    private readonly ConnectionManager _connections;
    private readonly RpcChannelOptions _options;
    private readonly RetryPolicies? _policies;
    private readonly RetryBudget _budget;

    /// <exception cref="ArgumentException">The options' service config has an invalid retry policy.</exception>
    /// <exception cref="NotSupportedException">The options' service config asks for hedging or retry throttling.</exception>
    public RpcCallInvoker(ConnectionManager connections, RpcChannelOptions options)
    {
        _connections = connections;
        _options = options;
        _policies = RetryPolicies.Create(options);
        _budget = new RetryBudget(options.MaxRetryBufferSize);
    }

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        // The caller's thread waits on the task itself (Task's wait spins, then sleeps on an
        // event), and the call's stream completes it on the connection's read loop rather than
        // through the pool: one hand-off less. Only our own completion code runs there, never the
        // caller's; the deadline and the token end the wait as they end the call.
        using var call = StartUnary(method, options, request, blocking: true);
        var response = call.ResponseAsync;
        SpinBriefly(response);
        return response.GetAwaiter().GetResult();
    }

    private static void SpinBriefly(Task response)
    {
        if (response.IsCompleted)
        {
            return;
        }

        var until = System.Diagnostics.Stopwatch.GetTimestamp() + BlockingSpinTicks;
        var spinner = default(SpinWait);
        while (!response.IsCompleted && System.Diagnostics.Stopwatch.GetTimestamp() < until)
        {
            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        StartUnary(method, options, request, blocking: false);

    private AsyncUnaryCall<TResponse> StartUnary<TRequest, TResponse>(Method<TRequest, TResponse> method, CallOptions options, TRequest request, bool blocking)
        where TRequest : class
        where TResponse : class
    {
        if (Buffer(method, options, request) is { } buffered)
        {
            var retried = new RetryCall<byte[], TResponse>(_connections, _options, BytesMethods<TResponse>.For(method), options, buffered.Bytes, buffered.Policy, _budget, buffered.Bytes.Length) { Blocking = blocking };
            retried.Start();
            return new AsyncUnaryCall<TResponse>(retried.GetResponseAsync(), CallState.GetResponseHeaders, CallState.GetStatus, CallState.GetTrailers, CallState.Dispose, retried);
        }

        var call = new RetryCall<TRequest, TResponse>(_connections, _options, method, options, request, policy: null, budget: null, bufferedBytes: 0) { Blocking = blocking };
        call.Start();
        return new AsyncUnaryCall<TResponse>(call.GetResponseAsync(), CallState.GetResponseHeaders, CallState.GetStatus, CallState.GetTrailers, CallState.Dispose, call);
    }

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        if (Buffer(method, options, request) is { } buffered)
        {
            var retried = new RetryCall<byte[], TResponse>(_connections, _options, BytesMethods<TResponse>.For(method), options, buffered.Bytes, buffered.Policy, _budget, buffered.Bytes.Length);
            retried.Start();
            return new AsyncServerStreamingCall<TResponse>(retried, CallState.GetResponseHeaders, CallState.GetStatus, CallState.GetTrailers, CallState.Dispose, retried);
        }

        var call = new RetryCall<TRequest, TResponse>(_connections, _options, method, options, request, policy: null, budget: null, bufferedBytes: 0);
        call.Start();
        return new AsyncServerStreamingCall<TResponse>(call, CallState.GetResponseHeaders, CallState.GetStatus, CallState.GetTrailers, CallState.Dispose, call);
    }

    /// <summary>A call whose requests the caller streams, under a retry policy: each is kept for a retry as it is written.</summary>
    private RetryCall<byte[], TResponse> StartStreaming<TRequest, TResponse>(Method<TRequest, TResponse> method, CallOptions options, RetrySettings policy)
        where TRequest : class
        where TResponse : class
    {
        var call = new RetryCall<byte[], TResponse>(_connections, _options, BytesMethods<TResponse>.For(method), options, request: null, policy, _budget, bufferedBytes: 0);
        call.Start();
        return call;
    }

    /// <summary>
    /// Under a retry policy, the request serialized once and kept for every attempt, when it fits
    /// the call's and the channel's retry buffer; null sends the call without a policy (a request
    /// that does not fit, or whose marshaller fails, then fails or succeeds as it would anyway).
    /// </summary>
    private (byte[] Bytes, RetrySettings Policy)? Buffer<TRequest, TResponse>(Method<TRequest, TResponse> method, CallOptions options, TRequest request)
    {
        if (_policies?.Find(method) is not { } policy)
        {
            return null;
        }

        SerializedMessage serialized;
        try
        {
            // Through the same buffer API as every call (a generated marshaller only has that one).
            serialized = MessageSerializer.Serialize(method.RequestMarshaller, request, _options.MaxSendMessageSize, "client", "RpcChannelOptions.MaxSendMessageSize");
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The call without a policy serializes again and fails as it would anyway.
            return null;
        }

        try
        {
            var length = serialized.Payload.Length;
            return length <= _options.MaxRetryBufferPerCallSize && _budget.TryTake(length)
                ? (serialized.Payload.ToArray(), policy)
                : null;
        }
        finally
        {
            serialized.Release();
        }
    }

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
    {
        if (_policies?.Find(method) is { } policy)
        {
            var retried = StartStreaming(method, options, policy);
            return new AsyncClientStreamingCall<TRequest, TResponse>(new RetryRequestWriter<TRequest, TResponse>(retried, method.RequestMarshaller, _options), retried.GetResponseAsync(),
                CallState.GetResponseHeaders, CallState.GetStatus, CallState.GetTrailers, CallState.Dispose, retried);
        }

        var call = new ClientCall<TRequest, TResponse>(_connections, _options, method, options);
        call.Start(request: null);
        return new AsyncClientStreamingCall<TRequest, TResponse>(call, call.GetResponseAsync(), CallState.GetResponseHeaders, CallState.GetStatus, CallState.GetTrailers, CallState.Dispose, call);
    }

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
    {
        if (_policies?.Find(method) is { } policy)
        {
            var retried = StartStreaming(method, options, policy);
            return new AsyncDuplexStreamingCall<TRequest, TResponse>(new RetryRequestWriter<TRequest, TResponse>(retried, method.RequestMarshaller, _options), retried,
                CallState.GetResponseHeaders, CallState.GetStatus, CallState.GetTrailers, CallState.Dispose, retried);
        }

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

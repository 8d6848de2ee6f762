using System.Diagnostics;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Connections.Features;
using Rpc.Server.Internal;
using Microsoft.Extensions.Logging;
using Rpc.Transports;
using Rpc.Transports.Diagnostics;

namespace Rpc.Server.Http;

/// <summary>
/// The one "service" Grpc.AspNetCore maps: it has no methods of its own; <see cref="HttpMethodProvider"/>
/// gives it every method in the server's <see cref="MethodRegistry"/>, each dispatching to the same
/// (already intercepted) handler a local call runs, so both protocols share one dispatch path.
/// </summary>
internal sealed class HttpDispatch
{
    public HttpDispatch(HttpCallTracker calls, ILogger logger)
    {
        Calls = calls;
        Logger = logger;
    }

    public HttpCallTracker Calls { get; }

    public ILogger Logger { get; }
}

/// <summary>Adds the registry's methods to Grpc.AspNetCore's model of <see cref="HttpDispatch"/>.</summary>
internal sealed class HttpMethodProvider : IServiceMethodProvider<HttpDispatch>
{
    private static readonly System.Reflection.MethodInfo AddOneMethod =
        typeof(HttpMethodProvider).GetMethod(nameof(AddOne), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;

    private readonly MethodRegistry _registry;

    public HttpMethodProvider(MethodRegistry registry) => _registry = registry;

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<HttpDispatch> context)
    {
        foreach (var method in _registry.All)
        {
            // The registry holds methods without their message types; this recovers them once per method at start.
            var types = method.GetType().GetGenericArguments();
            AddOneMethod.MakeGenericMethod(types).Invoke(null, [context, method]);
        }
    }

    private static void AddOne<TRequest, TResponse>(ServiceMethodProviderContext<HttpDispatch> context, ServerMethod<TRequest, TResponse> method)
        where TRequest : class
        where TResponse : class
    {
        List<object> metadata = [];
        var name = method.Method.FullName;
        if (method.Unary is not null)
        {
            var handler = method.Unary;
            context.AddUnaryMethod<TRequest, TResponse>(method.Method, metadata, (dispatch, request, inner) =>
                RunAsync(dispatch, inner, name, context => handler(request, context)));
        }
        else if (method.ClientStreaming is not null)
        {
            var handler = method.ClientStreaming;
            context.AddClientStreamingMethod<TRequest, TResponse>(method.Method, metadata, (dispatch, requests, inner) =>
                RunAsync(dispatch, inner, name, context => handler(requests, context)));
        }
        else if (method.ServerStreaming is not null)
        {
            var handler = method.ServerStreaming;
            context.AddServerStreamingMethod<TRequest, TResponse>(method.Method, metadata, (dispatch, request, responses, inner) =>
                RunAsync(dispatch, inner, name, async context =>
                {
                    await handler(request, responses, context).ConfigureAwait(false);
                    return true;
                }));
        }
        else if (method.Duplex is not null)
        {
            var handler = method.Duplex;
            context.AddDuplexStreamingMethod<TRequest, TResponse>(method.Method, metadata, (dispatch, requests, responses, inner) =>
                RunAsync(dispatch, inner, name, async context =>
                {
                    await handler(requests, responses, context).ConfigureAwait(false);
                    return true;
                }));
        }
    }

    /// <summary>
    /// One standard-gRPC call: tracked for shutdown, and measured as a local call is (span, metrics,
    /// Debug events), so traces look the same whichever protocol the client spoke.
    /// </summary>
    private static async Task<T> RunAsync<T>(HttpDispatch dispatch, ServerCallContext inner, string method, Func<HttpServerCallContext, Task<T>> handler)
    {
        var instruments = RpcInstruments.Server;
        var measures = new CallMeasures { MessagesUncounted = true };
        var parent = instruments.Source.HasListeners() ? RpcInstruments.Extract(inner.RequestHeaders) : default;
        instruments.Begin(ref measures, method, ActivityKind.Server, parent, "http", serverAddress: null, dispatch.Logger);
        using var call = dispatch.Calls.Begin(inner.CancellationToken);
        try
        {
            var result = await handler(Wrap(inner, call)).ConfigureAwait(false);
            instruments.End(ref measures, method, inner.Status.StatusCode, inner.Status.Detail, dispatch.Logger);
            return result;
        }
        catch (Exception ex)
        {
            var status = call.AbortStatus ?? ex switch
            {
                RpcException rpc => rpc.Status,
                OperationCanceledException when inner.CancellationToken.IsCancellationRequested => new Status(StatusCode.Cancelled, "The call was cancelled."),
                _ => new Status(StatusCode.Unknown, "Exception was thrown by handler."),
            };
            instruments.End(ref measures, method, status.StatusCode, status.Detail, dispatch.Logger);
            if (call.AbortStatus is not null)
            {
                throw new RpcException(status);
            }

            throw;
        }
    }

    private static HttpServerCallContext Wrap(ServerCallContext inner, HttpCall call)
    {
        var http = inner.GetHttpContext();
        var local = http.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(SniffedConnection.TransportKey, out var transport) == true
            ? transport as ITransportConnection
            : null;
        return new HttpServerCallContext(inner, call, local);
    }
}

using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Connections.Features;
using Rpc.Server.Internal;
using Rpc.Transports;

namespace Rpc.Server.Http;

/// <summary>
/// The one "service" Grpc.AspNetCore maps: it has no methods of its own; <see cref="HttpMethodProvider"/>
/// gives it every method in the server's <see cref="MethodRegistry"/>, each dispatching to the same
/// (already intercepted) handler a local call runs, so both protocols share one dispatch path.
/// </summary>
internal sealed class HttpDispatch
{
    public HttpDispatch(HttpCallTracker calls) => Calls = calls;

    public HttpCallTracker Calls { get; }
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
        if (method.Unary is not null)
        {
            context.AddUnaryMethod<TRequest, TResponse>(method.Method, metadata, async (dispatch, request, inner) =>
            {
                using var call = dispatch.Calls.Begin(inner.CancellationToken);
                try
                {
                    return await method.Unary(request, Wrap(inner, call)).ConfigureAwait(false);
                }
                catch (Exception) when (call.AbortStatus is { } status)
                {
                    throw new RpcException(status);
                }
            });
        }
        else if (method.ClientStreaming is not null)
        {
            context.AddClientStreamingMethod<TRequest, TResponse>(method.Method, metadata, async (dispatch, requests, inner) =>
            {
                using var call = dispatch.Calls.Begin(inner.CancellationToken);
                try
                {
                    return await method.ClientStreaming(requests, Wrap(inner, call)).ConfigureAwait(false);
                }
                catch (Exception) when (call.AbortStatus is { } status)
                {
                    throw new RpcException(status);
                }
            });
        }
        else if (method.ServerStreaming is not null)
        {
            context.AddServerStreamingMethod<TRequest, TResponse>(method.Method, metadata, async (dispatch, request, responses, inner) =>
            {
                using var call = dispatch.Calls.Begin(inner.CancellationToken);
                try
                {
                    await method.ServerStreaming(request, responses, Wrap(inner, call)).ConfigureAwait(false);
                }
                catch (Exception) when (call.AbortStatus is { } status)
                {
                    throw new RpcException(status);
                }
            });
        }
        else if (method.Duplex is not null)
        {
            context.AddDuplexStreamingMethod<TRequest, TResponse>(method.Method, metadata, async (dispatch, requests, responses, inner) =>
            {
                using var call = dispatch.Calls.Begin(inner.CancellationToken);
                try
                {
                    await method.Duplex(requests, responses, Wrap(inner, call)).ConfigureAwait(false);
                }
                catch (Exception) when (call.AbortStatus is { } status)
                {
                    throw new RpcException(status);
                }
            });
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

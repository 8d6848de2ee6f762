using Grpc.Core;
using Grpc.Core.Interceptors;
using Rpc.Transports.Protocol;

namespace Rpc.Server.Internal;

/// <summary>One bound method, independent of its message types.</summary>
internal interface IServerMethod
{
    string FullName { get; }

    string ServiceName { get; }

    void Intercept(IReadOnlyList<Interceptor> interceptors);

    ServerCall CreateCall(ServerCallEnvironment environment, CallStream stream, CallStart start);
}

/// <summary>A method's handler, of whichever of the four kinds, wrapped in the server's interceptors.</summary>
internal sealed class ServerMethod<TRequest, TResponse> : IServerMethod
    where TRequest : class
    where TResponse : class
{
    public ServerMethod(Method<TRequest, TResponse> method) => Method = method;

    public Method<TRequest, TResponse> Method { get; }

    public string FullName => Method.FullName;

    public string ServiceName => Method.ServiceName;

    public UnaryServerMethod<TRequest, TResponse>? Unary { get; set; }

    public ClientStreamingServerMethod<TRequest, TResponse>? ClientStreaming { get; set; }

    public ServerStreamingServerMethod<TRequest, TResponse>? ServerStreaming { get; set; }

    public DuplexStreamingServerMethod<TRequest, TResponse>? Duplex { get; set; }

    public void Intercept(IReadOnlyList<Interceptor> interceptors)
    {
        // Innermost first, so the first interceptor in the list runs first.
        for (var i = interceptors.Count - 1; i >= 0; i--)
        {
            var interceptor = interceptors[i];
            if (Unary is { } unary)
            {
                Unary = (request, context) => interceptor.UnaryServerHandler(request, context, unary);
            }

            if (ClientStreaming is { } clientStreaming)
            {
                ClientStreaming = (requests, context) => interceptor.ClientStreamingServerHandler(requests, context, clientStreaming);
            }

            if (ServerStreaming is { } serverStreaming)
            {
                ServerStreaming = (request, responses, context) => interceptor.ServerStreamingServerHandler(request, responses, context, serverStreaming);
            }

            if (Duplex is { } duplex)
            {
                Duplex = (requests, responses, context) => interceptor.DuplexStreamingServerHandler(requests, responses, context, duplex);
            }
        }
    }

    public ServerCall CreateCall(ServerCallEnvironment environment, CallStream stream, CallStart start) =>
        new ServerCall<TRequest, TResponse>(this, environment, stream, start);
}

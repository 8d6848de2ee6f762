using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Rpc.Tests.Hosting;

/// <summary>Counts the calls it sees; registered as a singleton by the test, so the count is the container's.</summary>
public sealed class CountingServerInterceptor : Interceptor
{
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Interlocked.Increment(ref _calls);
        return continuation(request, context);
    }
}

/// <summary>Refuses unary calls that carry no "x-token" header, as an authentication interceptor would.</summary>
public sealed class TokenServerInterceptor : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation) =>
        context.RequestHeaders.GetValue("x-token") is null
            ? throw new RpcException(new Status(StatusCode.Unauthenticated, "No token."))
            : continuation(request, context);
}

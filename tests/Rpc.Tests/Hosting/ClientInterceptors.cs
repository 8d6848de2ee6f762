using Grpc.Core;
using Grpc.Core.Interceptors;
using Rpc.Testing;

namespace Rpc.Tests.Hosting;

/// <summary>Appends its name to the "x-echo-order" header, so the server's echo shows which interceptors ran, in order.</summary>
public abstract class OrderInterceptor(string name) : Interceptor
{
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        var headers = context.Options.Headers ?? [];
        var previous = headers.GetValue("x-echo-order");
        if (previous is not null)
        {
            headers.Remove(headers.Get("x-echo-order")!);
        }

        headers.Add("x-echo-order", previous is null ? name : previous + "," + name);
        return continuation(request, new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host, context.Options.WithHeaders(headers)));
    }
}

public sealed class FirstInterceptor() : OrderInterceptor("first");

public sealed class SecondInterceptor() : OrderInterceptor("second");

/// <summary>A second client type over the same service, to show clients of one address share a channel.</summary>
public sealed class OtherTestServiceClient(CallInvoker invoker) : TestService.TestServiceClient(invoker);

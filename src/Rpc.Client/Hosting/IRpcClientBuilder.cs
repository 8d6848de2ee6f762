using Grpc.Core.Interceptors;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Configures a typed client that <see cref="RpcClientServiceCollectionExtensions.AddRpcClient{TClient}"/>
/// registered, as Grpc.Net.ClientFactory's <c>IHttpClientBuilder</c> does for <c>AddGrpcClient</c>.
/// </summary>
public interface IRpcClientBuilder
{
    /// <summary>The container the client is registered in.</summary>
    IServiceCollection Services { get; }

    /// <summary>The address the client calls, as given to <c>AddRpcClient</c>.</summary>
    string Address { get; }

    /// <summary>
    /// Runs <typeparamref name="TInterceptor"/> around every call of this client, after the
    /// interceptors added before it (the first added runs first). It is taken from the container
    /// each time a client is created, from the provider that creates the client, so its own
    /// lifetime decides whether clients share it; a type not registered is created with its
    /// constructor's parameters from the container.
    /// </summary>
    IRpcClientBuilder AddInterceptor<TInterceptor>()
        where TInterceptor : Interceptor;
}

using Grpc.Core.Interceptors;
using Microsoft.Extensions.DependencyInjection;

namespace Rpc.Client.Hosting;

/// <summary>The builder <c>AddRpcClient</c> returns, adding to one client type's registration.</summary>
internal sealed class RpcClientBuilder(IServiceCollection services, ClientRegistration registration) : IRpcClientBuilder
{
    public IServiceCollection Services { get; } = services;

    public string Address => registration.Address;

    public IRpcClientBuilder AddInterceptor<TInterceptor>()
        where TInterceptor : Interceptor
    {
        registration.Interceptors.Add(sp => ActivatorUtilities.GetServiceOrCreateInstance<TInterceptor>(sp));
        return this;
    }
}

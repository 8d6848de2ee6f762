using Microsoft.Extensions.DependencyInjection;
using Rpc.Server.Internal;
using Rpc.Transports;

namespace Rpc.Server.Hosting;

/// <summary>The builder <c>AddRpcServer</c> returns: records services and addresses for <see cref="RpcServerFactory"/>.</summary>
internal sealed class RpcServerBuilder(IServiceCollection services, RpcServerRegistrations registrations) : IRpcServerBuilder
{
    public IServiceCollection Services { get; } = services;

    internal RpcServerRegistrations Registrations { get; } = registrations;

    public IRpcServerBuilder AddService<TService>()
        where TService : class
    {
        // Fail here, at the line that added it, rather than when the host starts.
        ServiceBinder.FindBindMethod(typeof(TService));
        if (!Registrations.HasService(typeof(TService)))
        {
            Registrations.Services.Add((typeof(TService), ActivatedServiceBinder<TService>.Bind));
        }

        return this;
    }

    public IRpcServerBuilder Listen(string address, Action<ListenOptions>? configure = null)
    {
        TransportAddress.Parse(address);
        Registrations.Addresses.Add((address, configure));
        return this;
    }
}

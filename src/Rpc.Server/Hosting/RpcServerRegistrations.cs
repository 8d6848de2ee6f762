using Grpc.Core.Interceptors;
using Microsoft.Extensions.DependencyInjection;
using Rpc.Server.Internal;
using Rpc.Transports;

namespace Rpc.Server.Hosting;

/// <summary>
/// What the builder collected, read once when the container creates the server. Filled in while
/// the container is being set up (one thread), only read after it is built.
/// </summary>
internal sealed class RpcServerRegistrations
{
    /// <summary>Binds one added service type into the server's methods, activated from the container.</summary>
    public List<(Type ServiceType, Action<MethodRegistry, IServiceProvider> Bind)> Services { get; } = [];

    public List<(string Address, Action<ListenOptions>? Configure)> Addresses { get; } = [];

    /// <summary>Interceptors to take from the container when the server is built, after those in the options.</summary>
    public List<Func<IServiceProvider, Interceptor>> Interceptors { get; } = [];

    public bool HasService(Type serviceType) => Services.Exists(s => s.ServiceType == serviceType);

    /// <summary>The registrations <c>AddRpcServer</c> put in <paramref name="services"/>, if it has been called.</summary>
    public static RpcServerRegistrations? Find(IServiceCollection services)
    {
        foreach (var descriptor in services)
        {
            if (descriptor.ServiceType == typeof(RpcServerRegistrations) && !descriptor.IsKeyedService && descriptor.ImplementationInstance is RpcServerRegistrations found)
            {
                return found;
            }
        }

        return null;
    }
}

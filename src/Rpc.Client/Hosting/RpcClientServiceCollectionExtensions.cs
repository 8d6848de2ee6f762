using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Rpc.Client;
using Rpc.Client.Hosting;
using Rpc.Transports;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Grpc.Tools-generated clients over Rpc channels, as Grpc.Net.ClientFactory's <c>AddGrpcClient</c> does.</summary>
public static class RpcClientServiceCollectionExtensions
{
    /// <summary>
    /// Registers <typeparamref name="TClient"/>, a Grpc.Tools-generated client (or a class with a
    /// public constructor taking a <see cref="CallInvoker"/>), as a transient service calling
    /// <paramref name="address"/>. Every client of one address shares one <see cref="RpcChannel"/>,
    /// made on first use with the <paramref name="configure"/> delegates of every registration for
    /// that address, logging through the container's <c>ILoggerFactory</c> unless they name
    /// another, and disposed with the container.
    /// </summary>
    /// <exception cref="ArgumentException">The address is malformed.</exception>
    /// <exception cref="InvalidOperationException"><typeparamref name="TClient"/> is registered already for another address.</exception>
    public static IRpcClientBuilder AddRpcClient<TClient>(this IServiceCollection services, string address, Action<RpcChannelOptions>? configure = null)
        where TClient : class
    {
        ArgumentNullException.ThrowIfNull(services);
        var normalised = TransportAddress.Parse(address).ToString();
        var registrations = FindOrAddRegistrations(services);
        if (registrations.Clients.TryGetValue(typeof(TClient), out var registration))
        {
            if (registration.Address != normalised)
            {
                throw new InvalidOperationException($"'{typeof(TClient).Name}' is registered already for '{registration.Address}'; a client type calls one address.");
            }
        }
        else
        {
            registration = new ClientRegistration(normalised);
            registrations.Clients.Add(typeof(TClient), registration);
            var create = ActivatorUtilities.CreateFactory(typeof(TClient), [typeof(CallInvoker)]);
            var client = registration;
            services.TryAddTransient(sp => (TClient)create(sp, [CreateInvoker(sp, client)]));
        }

        if (!registrations.Channels.TryGetValue(normalised, out var channelSettings))
        {
            registrations.Channels.Add(normalised, channelSettings = []);
        }

        if (configure is not null)
        {
            channelSettings.Add(configure);
        }

        return new RpcClientBuilder(services, registration);
    }

    private static CallInvoker CreateInvoker(IServiceProvider services, ClientRegistration registration)
    {
        var invoker = services.GetRequiredService<RpcChannelPool>().Get(registration.Address).CreateCallInvoker();
        if (registration.Interceptors.Count == 0)
        {
            return invoker;
        }

        // Intercept wraps so that the first interceptor in the array runs first, the order they were added.
        var interceptors = new Interceptor[registration.Interceptors.Count];
        for (var i = 0; i < interceptors.Length; i++)
        {
            interceptors[i] = registration.Interceptors[i](services);
        }

        return invoker.Intercept(interceptors);
    }

    private static RpcClientRegistrations FindOrAddRegistrations(IServiceCollection services)
    {
        foreach (var descriptor in services)
        {
            if (descriptor.ServiceType == typeof(RpcClientRegistrations) && !descriptor.IsKeyedService && descriptor.ImplementationInstance is RpcClientRegistrations found)
            {
                return found;
            }
        }

        var registrations = new RpcClientRegistrations();
        services.AddSingleton(registrations);
        services.TryAddSingleton(sp => new RpcChannelPool(sp.GetRequiredService<RpcClientRegistrations>(), sp.GetService<ILoggerFactory>()));
        return registrations;
    }
}

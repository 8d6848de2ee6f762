using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Rpc.Server;
using Rpc.Server.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers an <see cref="RpcServer"/> that runs with the host, as <c>AddGrpc</c> does for grpc-dotnet.</summary>
public static class RpcServerServiceCollectionExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="RpcServer"/> and a hosted service that starts it with the
    /// host and shuts it down gracefully when the host stops. Its options come from the
    /// <c>Rpc:Server</c> configuration section (see docs/hosting.md), then from
    /// <paramref name="configure"/>; its addresses are those under <c>Rpc:Server:Addresses</c>
    /// and those given to <see cref="IRpcServerBuilder.Listen"/>. It logs through the container's
    /// <c>ILoggerFactory</c> unless the options name another. Calling this again configures the same server.
    /// </summary>
    public static IRpcServerBuilder AddRpcServer(this IServiceCollection services, Action<RpcServerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var registrations = RpcServerRegistrations.Find(services);
        if (registrations is null)
        {
            registrations = new RpcServerRegistrations();
            services.AddSingleton(registrations);
            services.AddOptions();
            services.AddSingleton<IConfigureOptions<RpcServerOptions>>(sp => new RpcServerConfigureOptions(sp.GetService<IConfiguration>()));
            services.TryAddSingleton(sp => RpcServerFactory.Create(sp, sp.GetRequiredService<RpcServerRegistrations>()));
            services.AddHostedService<RpcServerHostedService>();
        }

        if (configure is not null)
        {
            services.Configure(configure);
        }

        return new RpcServerBuilder(services, registrations);
    }
}

using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Rpc.Server.Hosting;

/// <summary>Builds the container's <see cref="RpcServer"/> from its options, the builder's registrations and configuration.</summary>
internal static class RpcServerFactory
{
    public static RpcServer Create(IServiceProvider services, RpcServerRegistrations registrations)
    {
        // Reading the options runs the configuration binding: a bad value fails here, when the host starts.
        var options = services.GetRequiredService<IOptions<RpcServerOptions>>().Value;
        options.LoggerFactory ??= services.GetService<ILoggerFactory>();
        foreach (var interceptor in registrations.Interceptors)
        {
            options.Interceptors.Add(interceptor(services));
        }

        var server = new RpcServer(options);
        foreach (var (_, bind) in registrations.Services)
        {
            bind(server.Environment.Methods, services);
        }

        if (services.GetService<IConfiguration>() is { } configuration)
        {
            foreach (var (key, address) in RpcServerConfiguration.ReadAddresses(configuration))
            {
                try
                {
                    server.Listen(address);
                }
                catch (ArgumentException ex)
                {
                    throw new InvalidOperationException($"Configuration key '{key}': {ex.Message}", ex);
                }
            }
        }

        foreach (var (address, configure) in registrations.Addresses)
        {
            server.Listen(address, configure);
        }

        return server;
    }
}

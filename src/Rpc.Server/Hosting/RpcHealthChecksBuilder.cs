using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Rpc.Transports;

namespace Rpc.Server.Hosting;

/// <summary>The server's builder and the health checks builder in one, for chaining either after <c>AddHealthChecks</c>.</summary>
internal sealed class RpcHealthChecksBuilder(IRpcServerBuilder server, IHealthChecksBuilder checks) : IRpcHealthChecksBuilder
{
    public IServiceCollection Services => server.Services;

    public IHealthChecksBuilder Add(HealthCheckRegistration registration) => checks.Add(registration);

    public IRpcServerBuilder AddService<TService>()
        where TService : class => server.AddService<TService>();

    public IRpcServerBuilder Listen(string address, Action<ListenOptions>? configure = null) => server.Listen(address, configure);
}

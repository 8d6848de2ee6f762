using Grpc.HealthCheck;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Rpc.Server.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Serves grpc.health.v1 from the app's health checks, as <c>AddGrpcHealthChecks</c> does for grpc-dotnet.</summary>
public static class RpcHealthChecksBuilderExtensions
{
    /// <summary>
    /// Serves grpc.health.v1 (Grpc.HealthCheck's service) with statuses that follow the health
    /// checks registered with Microsoft.Extensions.Diagnostics.HealthChecks (add them on the
    /// result, <c>.AddCheck(...)</c>, or on <c>services.AddHealthChecks()</c>): Check runs them
    /// when asked; Watch gets a fresh result first, then each change the health check publisher
    /// reports (every <see cref="HealthCheckPublisherOptions.Period"/>). The empty name and each
    /// service added through the builder follow every check unless <paramref name="configure"/>
    /// maps them otherwise; see <see cref="RpcHealthCheckOptions"/>. When the host begins to stop,
    /// every name turns NOT_SERVING before the server stops taking calls.
    /// </summary>
    public static IRpcHealthChecksBuilder AddHealthChecks(this IRpcServerBuilder builder, Action<RpcHealthCheckOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var checks = services.AddHealthChecks();
        services.TryAddSingleton<HealthServiceImpl>();
        services.TryAddSingleton<HealthServiceNames>();
        services.TryAddSingleton<RpcHealthService>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHealthCheckPublisher, RpcHealthChecksPublisher>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, RpcHealthStoppingService>());
        services.AddOptions<RpcHealthCheckOptions>();
        if (configure is not null)
        {
            services.Configure(configure);
        }

        builder.AddService<RpcHealthService>();
        return new RpcHealthChecksBuilder(builder, checks);
    }
}

using Grpc.HealthCheck;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Rpc.Server.Hosting;

/// <summary>
/// Copies each health report (published every <see cref="HealthCheckPublisherOptions.Period"/>,
/// 30 s by default) into <see cref="HealthServiceImpl"/>, whose Watch streams tell clients of each change.
/// </summary>
internal sealed class RpcHealthChecksPublisher(HealthServiceImpl health, HealthServiceNames names, RpcHealthService service) : IHealthCheckPublisher
{
    public Task PublishAsync(HealthReport report, CancellationToken cancellationToken)
    {
        if (service.Stopping)
        {
            // A report that was running when the host began to stop must not undo NOT_SERVING.
            return Task.CompletedTask;
        }

        foreach (var (name, predicate) in names.Names)
        {
            health.SetStatus(name, HealthStatusMapping.ToServingStatus(report, predicate));
        }

        return Task.CompletedTask;
    }
}

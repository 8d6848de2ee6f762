using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Rpc.Tests.Hosting;

/// <summary>A health check whose result the test sets.</summary>
public sealed class SwitchableHealthCheck : IHealthCheck
{
    private volatile int _status = (int)HealthStatus.Healthy;

    public HealthStatus Status
    {
        get => (HealthStatus)_status;
        set => _status = (int)value;
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(new HealthCheckResult(Status));
}

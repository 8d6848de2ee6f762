using Grpc.Health.V1;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace Rpc.Server.Hosting;

/// <summary>
/// Turns health check results into a grpc.health.v1 status the way Grpc.AspNetCore.HealthChecks
/// does: one unhealthy check makes NOT_SERVING, healthy and degraded ones SERVING, and no check
/// at all UNKNOWN.
/// </summary>
internal static class HealthStatusMapping
{
    public static ServingStatus ToServingStatus(IEnumerable<HealthStatus> statuses)
    {
        var resolved = ServingStatus.Unknown;
        foreach (var status in statuses)
        {
            if (status == HealthStatus.Unhealthy)
            {
                return ServingStatus.NotServing;
            }

            resolved = ServingStatus.Serving;
        }

        return resolved;
    }

    public static ServingStatus ToServingStatus(HealthReport report, Func<string, IEnumerable<string>, bool> predicate) =>
        ToServingStatus(report.Entries.Where(e => predicate(e.Key, e.Value.Tags)).Select(e => e.Value.Status));

    public static HealthCheckResponse Response(ServingStatus status) => new() { Status = status };
}

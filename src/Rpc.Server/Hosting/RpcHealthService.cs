using Grpc.Core;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Rpc.Server.Hosting;

/// <summary>
/// grpc.health.v1 over Microsoft.Extensions.Diagnostics.HealthChecks, as Grpc.AspNetCore.HealthChecks
/// serves it by default: Check runs the name's health checks there and then (NOT_FOUND for a
/// name the server does not know); Watch answers first with a fresh result the same way, then
/// with each change the publisher sees (Grpc.HealthCheck's <see cref="HealthServiceImpl"/>,
/// which queues at most five statuses per watcher, dropping the oldest, so a watcher that stops
/// reading costs a bounded amount). Once the host begins to stop, every name is
/// NOT_SERVING, as grpc-go's health server does on graceful stop, so watchers learn it before the
/// server refuses calls.
/// </summary>
/// <remarks>Threads: <see cref="_stopping"/> is written once by the host's stopping thread and read by calls.</remarks>
internal sealed class RpcHealthService(HealthServiceImpl cache, HealthCheckService checks, HealthServiceNames names) : Health.HealthBase
{
    private volatile bool _stopping;

    /// <summary>Whether the host has begun to stop; the publisher then leaves the statuses alone.</summary>
    public bool Stopping => _stopping;

    /// <summary>Sets every name NOT_SERVING for good (called when the host begins to stop).</summary>
    public void MarkStopping()
    {
        _stopping = true;
        foreach (var name in names.Names.Keys)
        {
            cache.SetStatus(name, HealthCheckResponse.Types.ServingStatus.NotServing);
        }
    }

    public override async Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context)
    {
        if (!names.Names.TryGetValue(request.Service, out var predicate))
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"Unknown service '{request.Service}'."));
        }

        return HealthStatusMapping.Response(await CheckAsync(predicate, context.CancellationToken).ConfigureAwait(false));
    }

    public override Task Watch(HealthCheckRequest request, IServerStreamWriter<HealthCheckResponse> responseStream, ServerCallContext context) =>
        cache.Watch(request, new FreshFirstWriter(this, request.Service, responseStream, context.CancellationToken), context);

    private async Task<HealthCheckResponse> WatchedStatusAsync(string service, CancellationToken cancellationToken) =>
        names.Names.TryGetValue(service, out var predicate)
            ? HealthStatusMapping.Response(await CheckAsync(predicate, cancellationToken).ConfigureAwait(false))
            : HealthStatusMapping.Response(HealthCheckResponse.Types.ServingStatus.ServiceUnknown);

    private async Task<HealthCheckResponse.Types.ServingStatus> CheckAsync(Func<string, IEnumerable<string>, bool> predicate, CancellationToken cancellationToken)
    {
        if (_stopping)
        {
            return HealthCheckResponse.Types.ServingStatus.NotServing;
        }

        var report = await checks.CheckHealthAsync(r => predicate(r.Name, r.Tags), cancellationToken).ConfigureAwait(false);
        return HealthStatusMapping.ToServingStatus(report, predicate);
    }

    /// <summary>
    /// Replaces Watch's first message, which comes from the last report (none before the first
    /// publish), with a fresh result. Only the Watch call's own handler writes through it.
    /// </summary>
    private sealed class FreshFirstWriter(RpcHealthService owner, string service, IServerStreamWriter<HealthCheckResponse> inner, CancellationToken cancellationToken)
        : IServerStreamWriter<HealthCheckResponse>
    {
        private bool _wroteFirst;

        public WriteOptions? WriteOptions
        {
            get => inner.WriteOptions;
            set => inner.WriteOptions = value;
        }

        public async Task WriteAsync(HealthCheckResponse message)
        {
            if (!_wroteFirst)
            {
                _wroteFirst = true;
                message = await owner.WatchedStatusAsync(service, cancellationToken).ConfigureAwait(false);
            }

            await inner.WriteAsync(message).ConfigureAwait(false);
        }
    }
}

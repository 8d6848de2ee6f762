using Microsoft.Extensions.Hosting;

namespace Rpc.Server.Hosting;

/// <summary>
/// Turns every health status NOT_SERVING when the host begins to stop. It is an
/// <see cref="IHostedLifecycleService"/> so that this happens in StoppingAsync, before any
/// hosted service stops, the server included: watchers hear it while the server still answers.
/// </summary>
internal sealed class RpcHealthStoppingService(RpcHealthService health) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        health.MarkStopping();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

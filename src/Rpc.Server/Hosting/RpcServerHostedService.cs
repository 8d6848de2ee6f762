using Microsoft.Extensions.Hosting;

namespace Rpc.Server.Hosting;

/// <summary>
/// Starts the container's <see cref="RpcServer"/> with the host and shuts it down gracefully on
/// the host's stop: new calls are refused, calls in flight get <see cref="RpcServerOptions.ShutdownTimeout"/>
/// to finish, and the host's stop token (its own shutdown timeout) cuts every wait short.
/// </summary>
internal sealed class RpcServerHostedService(RpcServer server) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => server.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => server.ShutdownAsync(cancellationToken);
}

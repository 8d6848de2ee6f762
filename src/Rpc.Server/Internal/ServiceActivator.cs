using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Rpc.Server.Internal;

/// <summary>
/// Gives each call its own service instance from the container, as Grpc.AspNetCore does: every
/// call runs in a DI scope of its own, so a scoped service (and its scoped dependencies) lives for
/// one call, a transient one is created for each call and a singleton is reused. A type that is
/// not registered is created per call with its constructor's dependencies from the scope and
/// disposed after the call. The scope, and so everything it created, is disposed when the
/// handler's task ends, before the server sends the call's status.
/// </summary>
/// <remarks>
/// Threads: one instance is shared by every call on every connection; it holds only what it
/// built at bind time, so calls touch no shared mutable state here.
/// </remarks>
internal sealed class ServiceActivator<TService>
    where TService : class
{
    private readonly IServiceScopeFactory _scopes;
    // Null when the container knows TService: the scope then owns (and disposes) what it hands out.
    private readonly ObjectFactory? _factory;

    public ServiceActivator(IServiceProvider services)
    {
        _scopes = services.GetRequiredService<IServiceScopeFactory>();
        var registered = services.GetService<IServiceProviderIsService>()?.IsService(typeof(TService)) ?? false;
        _factory = registered ? null : ActivatorUtilities.CreateFactory(typeof(TService), Type.EmptyTypes);
    }

    // One method per call kind rather than one taking a lambda: the handler's arguments then
    // travel as parameters, not in a closure allocated for every call.
    public async Task<TResponse> UnaryAsync<TRequest, TResponse>(
        Func<TService, TRequest, ServerCallContext, Task<TResponse>> handler, TRequest request, ServerCallContext context)
    {
        var scope = _scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            var service = Create(scope.ServiceProvider);
            try
            {
                return await handler(service, request, context).ConfigureAwait(false);
            }
            finally
            {
                await ReleaseAsync(service).ConfigureAwait(false);
            }
        }
    }

    public async Task<TResponse> ClientStreamingAsync<TRequest, TResponse>(
        Func<TService, IAsyncStreamReader<TRequest>, ServerCallContext, Task<TResponse>> handler, IAsyncStreamReader<TRequest> requests, ServerCallContext context)
    {
        var scope = _scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            var service = Create(scope.ServiceProvider);
            try
            {
                return await handler(service, requests, context).ConfigureAwait(false);
            }
            finally
            {
                await ReleaseAsync(service).ConfigureAwait(false);
            }
        }
    }

    public async Task ServerStreamingAsync<TRequest, TResponse>(
        Func<TService, TRequest, IServerStreamWriter<TResponse>, ServerCallContext, Task> handler, TRequest request, IServerStreamWriter<TResponse> responses, ServerCallContext context)
    {
        var scope = _scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            var service = Create(scope.ServiceProvider);
            try
            {
                await handler(service, request, responses, context).ConfigureAwait(false);
            }
            finally
            {
                await ReleaseAsync(service).ConfigureAwait(false);
            }
        }
    }

    public async Task DuplexStreamingAsync<TRequest, TResponse>(
        Func<TService, IAsyncStreamReader<TRequest>, IServerStreamWriter<TResponse>, ServerCallContext, Task> handler, IAsyncStreamReader<TRequest> requests, IServerStreamWriter<TResponse> responses, ServerCallContext context)
    {
        var scope = _scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            var service = Create(scope.ServiceProvider);
            try
            {
                await handler(service, requests, responses, context).ConfigureAwait(false);
            }
            finally
            {
                await ReleaseAsync(service).ConfigureAwait(false);
            }
        }
    }

    private TService Create(IServiceProvider scope) =>
        _factory is null ? scope.GetRequiredService<TService>() : (TService)_factory(scope, arguments: null);

    private ValueTask ReleaseAsync(TService service)
    {
        if (_factory is null)
        {
            return ValueTask.CompletedTask;
        }

        if (service is IAsyncDisposable asyncDisposable)
        {
            return asyncDisposable.DisposeAsync();
        }

        (service as IDisposable)?.Dispose();
        return ValueTask.CompletedTask;
    }
}

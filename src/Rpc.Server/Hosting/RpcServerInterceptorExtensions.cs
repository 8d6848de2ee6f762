using Grpc.Core.Interceptors;
using Rpc.Server;
using Rpc.Server.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Server interceptors from the container, as <c>GrpcServiceOptions.Interceptors.Add&lt;T&gt;()</c> gives grpc-dotnet.</summary>
public static class RpcServerInterceptorExtensions
{
    /// <summary>
    /// Runs <typeparamref name="TInterceptor"/> around every call, after the interceptors in
    /// <see cref="RpcServerOptions.Interceptors"/> and those added before it (the first runs
    /// outermost). Unlike grpc-dotnet, which activates one per call, it is taken from the container
    /// once, when the server is built (created with its constructor's dependencies if not
    /// registered), and shared by every call: register it as a singleton or not at all, and keep
    /// per-call state in the call, not in the interceptor.
    /// </summary>
    public static IRpcServerBuilder AddInterceptor<TInterceptor>(this IRpcServerBuilder builder)
        where TInterceptor : Interceptor
    {
        ArgumentNullException.ThrowIfNull(builder);
        var registrations = RpcServerRegistrations.Find(builder.Services)
            ?? throw new ArgumentException("Use the builder that AddRpcServer returned.", nameof(builder));

        registrations.Interceptors.Add(sp => ActivatorUtilities.GetServiceOrCreateInstance<TInterceptor>(sp));
        return builder;
    }
}

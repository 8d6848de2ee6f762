using Rpc.Transports;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Configures the <see cref="Rpc.Server.RpcServer"/> that <see cref="RpcServerServiceCollectionExtensions.AddRpcServer"/>
/// registers: the services it serves and the addresses it listens on.
/// </summary>
public interface IRpcServerBuilder
{
    /// <summary>The container the server is registered in.</summary>
    IServiceCollection Services { get; }

    /// <summary>
    /// Serves <typeparamref name="TService"/>, a class derived from a Grpc.Tools-generated
    /// <c>*Base</c> class, activated for each call as Grpc.AspNetCore does: each call runs in a DI
    /// scope of its own, so a service registered as scoped or transient gets a new instance per
    /// call (disposed with the scope when the call's handler returns) and a singleton is reused.
    /// A type not registered in the container is created per call, its constructor's parameters
    /// resolved from the call's scope, and disposed after the call.
    /// </summary>
    /// <exception cref="ArgumentException">The type is not a generated service.</exception>
    IRpcServerBuilder AddService<TService>()
        where TService : class;

    /// <summary>
    /// Adds an address to listen on, such as <c>unix:///run/calc.sock</c>, with its own settings
    /// (who may connect, the socket's file mode); the server also listens on every address under
    /// the <c>Rpc:Server:Addresses</c> configuration key.
    /// </summary>
    /// <exception cref="ArgumentException">The address is malformed.</exception>
    IRpcServerBuilder Listen(string address, Action<ListenOptions>? configure = null);
}

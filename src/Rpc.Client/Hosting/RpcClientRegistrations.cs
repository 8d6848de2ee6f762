using Grpc.Core.Interceptors;
using Rpc.Client;

namespace Rpc.Client.Hosting;

/// <summary>
/// The typed clients and channel settings that <c>AddRpcClient</c> collected. Filled in while the
/// container is being set up (one thread), only read after it is built.
/// </summary>
internal sealed class RpcClientRegistrations
{
    /// <summary>Each client type's address and interceptors.</summary>
    public Dictionary<Type, ClientRegistration> Clients { get; } = [];

    /// <summary>The channel settings for each address (normalised), applied in the order they were added.</summary>
    public Dictionary<string, List<Action<RpcChannelOptions>>> Channels { get; } = new(StringComparer.Ordinal);
}

/// <summary>One typed client's address and the interceptors around its calls, outermost first.</summary>
internal sealed class ClientRegistration(string address)
{
    public string Address { get; } = address;

    public List<Func<IServiceProvider, Interceptor>> Interceptors { get; } = [];
}

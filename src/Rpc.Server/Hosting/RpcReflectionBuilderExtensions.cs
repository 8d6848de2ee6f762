using Grpc.Reflection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Rpc.Server.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Serves gRPC server reflection, as <c>AddGrpcReflection</c> with <c>MapGrpcReflectionService</c> do for grpc-dotnet.</summary>
public static class RpcReflectionBuilderExtensions
{
    /// <summary>
    /// Serves grpc.reflection.v1 and grpc.reflection.v1alpha (Grpc.Reflection's
    /// <see cref="ReflectionServiceImpl"/>), describing every service added through this builder,
    /// before or after this call, reflection and health included, so tools such as grpcurl can
    /// list and call them. Services added by hand to the <c>RpcServer</c> are not listed.
    /// </summary>
    public static IRpcServerBuilder AddReflection(this IRpcServerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        // Built when the first reflection call arrives, after every service has been added.
        builder.Services.TryAddSingleton(sp => new ReflectionServiceImpl(ServiceDescriptors.Of(sp.GetRequiredService<RpcServerRegistrations>())));
        builder.Services.TryAddSingleton<ReflectionServiceV1>();
        return builder.AddService<ReflectionServiceImpl>().AddService<ReflectionServiceV1>();
    }
}

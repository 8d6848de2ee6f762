using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// What <see cref="RpcHealthChecksBuilderExtensions.AddHealthChecks"/> returns: the server's builder,
/// and the health checks builder as grpc-dotnet's <c>AddGrpcHealthChecks</c> returns, so both
/// <c>.AddService&lt;T&gt;()</c> and <c>.AddCheck(...)</c> follow it.
/// </summary>
public interface IRpcHealthChecksBuilder : IRpcServerBuilder, IHealthChecksBuilder
{
    /// <summary>The container the server and the health checks are registered in.</summary>
    new IServiceCollection Services { get; }
}

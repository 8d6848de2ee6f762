using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Rpc.Server.Hosting;

/// <summary>Applies the <c>Rpc:Server</c> configuration section to the options, before any <c>AddRpcServer(configure)</c> delegate.</summary>
internal sealed class RpcServerConfigureOptions(IConfiguration? configuration) : IConfigureOptions<RpcServerOptions>
{
    public void Configure(RpcServerOptions options)
    {
        if (configuration is not null)
        {
            RpcServerConfiguration.Bind(configuration, options);
        }
    }
}

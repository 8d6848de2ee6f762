using Rpc.Cli.Tests.Infrastructure;
using Rpc.Server;
using Xunit;

namespace Rpc.Cli.Tests;

/// <summary>A server without reflection: the tool says so and points at --proto.</summary>
public sealed class NoReflectionTests
{
    [Fact]
    public async Task List_ServerWithoutReflection_SaysSoAndSuggestsProto()
    {
        var socket = Paths.NewSocketPath();
        await using var server = new RpcServer(new RpcServerOptions());
        server.Listen("unix://" + socket);
        await server.StartAsync().WaitAsync(ToolProcess.Timeout);
        try
        {
            var result = await ToolProcess.RunAsync(null, "list", "unix://" + socket);
            Assert.Equal(12, result.ExitCode);
            Assert.Contains("does not serve reflection", result.Error, StringComparison.Ordinal);
            Assert.Contains("--proto", result.Error, StringComparison.Ordinal);
        }
        finally
        {
            await server.ShutdownAsync().WaitAsync(ToolProcess.Timeout);
            File.Delete(socket);
        }
    }
}

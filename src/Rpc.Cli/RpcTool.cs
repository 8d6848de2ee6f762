using System.CommandLine;
using Rpc.Cli.Commands;

namespace Rpc.Cli;

/// <summary>The <c>rpc</c> command line: its commands, parsed by System.CommandLine.</summary>
internal static class RpcTool
{
    /// <summary>Parses and runs one command line; the result is the process's exit code.</summary>
    public static Task<int> RunAsync(string[] args, ToolIO io)
    {
        var root = new RootCommand("rpc: list, describe, call, health-check and benchmark Rpc (and gRPC) services through server reflection, or from their .proto files (--proto).")
        {
            ListCommand.Create(io),
            DescribeCommand.Create(io),
            CallCommand.Create(io),
            HealthCommand.Create(io),
            BenchCommand.Create(io),
        };
        // No response files: '-d @file' names a request file, as in curl and grpcurl.
        return root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null }).InvokeAsync(new InvocationConfiguration { Output = io.Out, Error = io.Error });
    }
}

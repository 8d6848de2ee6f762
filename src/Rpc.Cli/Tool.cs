using System.CommandLine;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Rpc.Cli.Commands;
using Rpc.Cli.Reflection;

namespace Rpc.Cli;

/// <summary>What every command shares: turning failures into a message and an exit code, and finding services.</summary>
internal static class Tool
{
    /// <summary>Runs a command's body; a <see cref="ToolException"/> or a failed call becomes a message on stderr and its code.</summary>
    public static async Task<int> RunAsync(ToolIO io, Func<Task<int>> body, Connection connection, ParseResult result, SchemaOptions? schema = null)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (ToolException e)
        {
            await io.Error.WriteLineAsync("error: " + e.Message).ConfigureAwait(false);
            if (e.ListServices)
            {
                await TryListServicesAsync(io, connection, result, schema).ConfigureAwait(false);
            }

            return e.ExitCode;
        }
        catch (RpcException e)
        {
            await io.Error.WriteLineAsync($"error: {e.StatusCode}: {e.Status.Detail}").ConfigureAwait(false);
            return (int)e.StatusCode;
        }
    }

    /// <summary>The service of that full name, or a <see cref="ToolException"/> that lists what the server has.</summary>
    public static async Task<ServiceDescriptor> FindServiceAsync(ISchemaSource reflection, string name, CancellationToken cancellationToken)
    {
        var index = await reflection.ResolveAsync(name, cancellationToken).ConfigureAwait(false);
        return index.Find(name) as ServiceDescriptor
            ?? throw new ToolException(ExitCodes.NotFound, $"'{name}' is not a service.", listServices: true);
    }

    private static async Task TryListServicesAsync(ToolIO io, Connection connection, ParseResult result, SchemaOptions? schema)
    {
        try
        {
            await using var channel = connection.OpenChannel(result, out var settings);
            var source = schema?.Open(result, channel.CreateCallInvoker(), settings) ?? new ReflectionClient(channel.CreateCallInvoker(), settings);
            var services = await source.ListServicesAsync(CancellationToken.None).ConfigureAwait(false);
            await io.Error.WriteLineAsync((source is ProtoFileSource ? "The .proto files have: " : "The server has: ") + string.Join(", ", services.Order(StringComparer.Ordinal))).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ToolException or RpcException)
        {
            // The list only helps; the error above already says what went wrong.
        }
    }
}

using System.CommandLine;
using Rpc.Cli.Reflection;

namespace Rpc.Cli.Commands;

/// <summary><c>rpc describe ADDRESS SYMBOL</c>: a service, method, message or enum as .proto text.</summary>
internal static class DescribeCommand
{
    public static Command Create(ToolIO io)
    {
        var connection = new Connection();
        var schema = new SchemaOptions();
        var symbol = new Argument<string>("symbol") { Description = "A full name: package.Service, package.Service/Method, package.Message or package.Enum." };
        var command = new Command("describe", "Describe a service, method, message or enum as .proto text.");
        connection.AddTo(command);
        schema.AddTo(command);
        command.Arguments.Add(symbol);
        command.SetAction((result, cancellationToken) => Tool.RunAsync(io, async () =>
        {
            await using var channel = connection.OpenChannel(result, out var settings);
            var reflection = schema.Open(result, channel.CreateCallInvoker(), settings);
            var name = result.GetValue(symbol)!.TrimStart('.').Replace('/', '.');
            var index = await reflection.ResolveAsync(name, cancellationToken).ConfigureAwait(false);
            var found = index.Find(name) ?? throw new ToolException(ExitCodes.NotFound, $"The server's files do not define '{name}'.", listServices: true);
            await io.Out.WriteAsync(ProtoText.Describe(found)).ConfigureAwait(false);
            return ExitCodes.Ok;
        }, connection, result, schema));
        return command;
    }
}

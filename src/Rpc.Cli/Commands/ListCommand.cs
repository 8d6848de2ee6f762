using System.CommandLine;
using Google.Protobuf.Reflection;
using Rpc.Cli.Reflection;

namespace Rpc.Cli.Commands;

/// <summary><c>rpc list ADDRESS [SERVICE]</c>: the server's services, or one service's methods with their kinds.</summary>
internal static class ListCommand
{
    public static Command Create(ToolIO io)
    {
        var connection = new Connection();
        var schema = new SchemaOptions();
        var service = new Argument<string?>("service") { Description = "A service's full name: list its methods.", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("list", "List the server's services, or a service's methods.");
        connection.AddTo(command);
        schema.AddTo(command);
        command.Arguments.Add(service);
        command.SetAction((result, cancellationToken) => Tool.RunAsync(io, async () =>
        {
            await using var channel = connection.OpenChannel(result, out var settings);
            var reflection = schema.Open(result, channel.CreateCallInvoker(), settings);
            if (result.GetValue(service) is not { } name)
            {
                foreach (var listed in (await reflection.ListServicesAsync(cancellationToken).ConfigureAwait(false)).Order(StringComparer.Ordinal))
                {
                    await io.Out.WriteLineAsync(listed).ConfigureAwait(false);
                }

                return ExitCodes.Ok;
            }

            var found = await Tool.FindServiceAsync(reflection, name, cancellationToken).ConfigureAwait(false);
            foreach (var method in found.Methods)
            {
                await io.Out.WriteLineAsync($"{found.FullName}/{method.Name}\t{ProtoText.Kind(method)}\t{method.InputType.FullName} -> {method.OutputType.FullName}").ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        }, connection, result, schema));
        return command;
    }
}

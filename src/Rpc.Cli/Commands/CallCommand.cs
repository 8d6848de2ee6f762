using System.CommandLine;
using Google.Protobuf.Reflection;
using Rpc.Cli.Protobuf;
using Rpc.Cli.Reflection;

namespace Rpc.Cli.Commands;

/// <summary>
/// <c>rpc call ADDRESS package.Service/Method [JSON]</c>: requests as JSON in, responses as JSON
/// out (one line each), the status and trailers on stderr, the status code as the exit code.
/// </summary>
internal static class CallCommand
{

    public static Command Create(ToolIO io)
    {
        var connection = new Connection();
        var schema = new SchemaOptions();
        var methodName = new Argument<string>("method") { Description = "package.Service/Method (or package.Service.Method)." };
        var json = new Argument<string?>("json") { Description = "The request as JSON; several objects make a client stream.", Arity = ArgumentArity.ZeroOrOne };
        var data = new Option<string?>("--data", "-d") { Description = "The request: JSON, @file, or @- for stdin (stdin is read by default when redirected)." };
        var command = new Command("call", "Call a method with JSON requests; print JSON responses.");
        connection.AddTo(command);
        schema.AddTo(command);
        command.Arguments.Add(methodName);
        command.Arguments.Add(json);
        command.Options.Add(data);
        command.SetAction((result, cancellationToken) => Tool.RunAsync(io, async () =>
        {
            var requestText = RequestReader.ReadText(result.GetValue(json), result.GetValue(data), io);
            await using var channel = connection.OpenChannel(result, out var settings);
            var reflection = schema.Open(result, channel.CreateCallInvoker(), settings);
            var method = await ResolveMethodAsync(reflection, result.GetValue(methodName)!, cancellationToken).ConfigureAwait(false);
            var requests = EncodeAll(method, RequestReader.Split(requestText));
            return await DynamicCall.RunAsync(channel.CreateCallInvoker(), method, requests, settings, io, cancellationToken).ConfigureAwait(false);
        }, connection, result, schema));
        return command;
    }

    internal static async Task<MethodDescriptor> ResolveMethodAsync(ISchemaSource reflection, string name, CancellationToken cancellationToken)
    {
        name = name.TrimStart('.');
        var split = name.LastIndexOf('/') is var slash and > 0 ? slash : name.LastIndexOf('.');
        if (split <= 0)
        {
            throw new ToolException(ExitCodes.InvalidArgument, $"'{name}' is not package.Service/Method.", listServices: true);
        }

        var service = await Tool.FindServiceAsync(reflection, name[..split], cancellationToken).ConfigureAwait(false);
        return service.FindMethodByName(name[(split + 1)..])
            ?? throw new ToolException(ExitCodes.NotFound,
                $"{service.FullName} has no method '{name[(split + 1)..]}'; it has: {string.Join(", ", service.Methods.Select(m => m.Name))}.");
    }

    internal static List<byte[]> EncodeAll(MethodDescriptor method, List<string> requests)
    {
        if (!method.IsClientStreaming && requests.Count != 1)
        {
            throw new ToolException(ExitCodes.InvalidArgument, $"{method.Name} is {ProtoText.Kind(method)}: it takes one request, not {requests.Count}.");
        }

        try
        {
            return requests.Select(r => JsonToProto.Encode(method.InputType, r)).ToList();
        }
        catch (JsonCodecException e)
        {
            throw new ToolException(ExitCodes.InvalidArgument, e.Message);
        }
    }
}

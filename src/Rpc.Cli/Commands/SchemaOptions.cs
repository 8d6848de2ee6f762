using System.CommandLine;
using Grpc.Core;
using Rpc.Cli.Reflection;

namespace Rpc.Cli.Commands;

/// <summary>--proto and -I: where list, describe, call and bench learn the services when not from reflection.</summary>
internal sealed class SchemaOptions
{
    public Option<string[]> Protos { get; } = new("--proto")
    {
        Description = "A .proto file that defines the service; the server's reflection is not used. Repeatable.",
    };

    public Option<string[]> ImportPaths { get; } = new("--import-path", "-I")
    {
        Description = "A directory to find the .proto files' imports in (well-known types need none). Repeatable.",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Protos);
        command.Options.Add(ImportPaths);
    }

    /// <summary>The .proto files when --proto is given; the server's reflection otherwise.</summary>
    public ISchemaSource Open(ParseResult result, CallInvoker invoker, CallSettings settings) =>
        result.GetValue(Protos) is { Length: > 0 } protos
            ? ProtoFileSource.Load(protos, result.GetValue(ImportPaths) ?? [])
            : new ReflectionClient(invoker, settings);
}

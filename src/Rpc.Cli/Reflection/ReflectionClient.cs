using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Reflection.V1;

namespace Rpc.Cli.Reflection;

/// <summary>
/// Asks a server what it serves through grpc.reflection.v1, falling back to v1alpha when v1 is
/// Unimplemented (the two have the same messages, so one set of types carries both).
/// Each question is one short bidi call with the tool's deadline.
/// </summary>
internal sealed class ReflectionClient(CallInvoker invoker, CallSettings settings) : ISchemaSource
{
    private static readonly string[] ServiceNames = ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];

    // Bounds the files one symbol may pull in, so a hostile server cannot keep the tool asking forever.
    private const int MaxFiles = 1000;

    private int _version;

    /// <summary>The services the server lists.</summary>
    public async Task<IReadOnlyList<string>> ListServicesAsync(CancellationToken cancellationToken)
    {
        var response = await AskAsync(new ServerReflectionRequest { ListServices = "" }, cancellationToken).ConfigureAwait(false);
        return response.ListServicesResponse?.Service.Select(s => s.Name).ToList()
            ?? throw new ToolException(ExitCodes.Internal, "The server's reflection answer to list_services carried no list.");
    }

    /// <summary>The files that define <paramref name="symbol"/>, with all they import, built into descriptors.</summary>
    public async Task<SymbolIndex> ResolveAsync(string symbol, CancellationToken cancellationToken)
    {
        var files = new Dictionary<string, (FileDescriptorProto Proto, ByteString Bytes)>(StringComparer.Ordinal);
        var first = await AskAsync(new ServerReflectionRequest { FileContainingSymbol = symbol }, cancellationToken).ConfigureAwait(false);
        if (first.ErrorResponse is { } error)
        {
            throw new ToolException(ExitCodes.NotFound, $"The server does not know symbol '{symbol}': {error.ErrorMessage}", listServices: true);
        }

        Add(first);
        while (files.Values.SelectMany(f => f.Proto.Dependency).FirstOrDefault(d => !files.ContainsKey(d)) is { } missing)
        {
            if (files.Count >= MaxFiles)
            {
                throw new ToolException(ExitCodes.Internal, $"'{symbol}' pulls in more than {MaxFiles} files; giving up.");
            }

            var response = await AskAsync(new ServerReflectionRequest { FileByFilename = missing }, cancellationToken).ConfigureAwait(false);
            if (response.ErrorResponse is { } missingError)
            {
                throw new ToolException(ExitCodes.NotFound, $"The server could not send '{missing}', which '{symbol}' needs: {missingError.ErrorMessage}");
            }

            Add(response);
            if (!files.ContainsKey(missing))
            {
                throw new ToolException(ExitCodes.Internal, $"The server answered for '{missing}' with other files.");
            }
        }

        return new SymbolIndex(DescriptorBuilder.Build(files, "The server's files"));

        void Add(ServerReflectionResponse response)
        {
            foreach (var bytes in response.FileDescriptorResponse?.FileDescriptorProto ?? [])
            {
                var file = FileDescriptorProto.Parser.ParseFrom(bytes);
                files.TryAdd(file.Name, (file, bytes));
            }
        }
    }

    private async Task<ServerReflectionResponse> AskAsync(ServerReflectionRequest request, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                return await AskOnceAsync(ServiceNames[_version], request, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented && _version + 1 < ServiceNames.Length)
            {
                _version++;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
            {
                throw new ToolException(ExitCodes.Unimplemented,
                    "The server does not serve reflection (neither grpc.reflection.v1 nor v1alpha), so the tool cannot learn its services. "
                    + "Add reflection to the server (AddReflection(), see docs/hosting.md). "
                    + "Or give the tool the service's .proto instead: --proto FILE (and -I DIR for its imports).");
            }
        }
    }

    private async Task<ServerReflectionResponse> AskOnceAsync(string service, ServerReflectionRequest request, CancellationToken cancellationToken)
    {
        var method = new Method<ServerReflectionRequest, ServerReflectionResponse>(MethodType.DuplexStreaming, service, "ServerReflectionInfo",
            Marshallers.Create(r => r.ToByteArray(), ServerReflectionRequest.Parser.ParseFrom),
            Marshallers.Create(r => r.ToByteArray(), ServerReflectionResponse.Parser.ParseFrom));
        using var call = invoker.AsyncDuplexStreamingCall(method, null, settings.ToCallOptions(cancellationToken));
        await call.RequestStream.WriteAsync(request, cancellationToken).ConfigureAwait(false);
        await call.RequestStream.CompleteAsync().ConfigureAwait(false);
        if (!await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            throw new ToolException(ExitCodes.Internal, $"{service} ended without an answer.");
        }

        return call.ResponseStream.Current;
    }
}

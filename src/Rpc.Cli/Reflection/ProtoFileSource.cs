extern alias ProtobufNet;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using ProtobufNetSet = ProtobufNet::Google.Protobuf.Reflection.FileDescriptorSet;

namespace Rpc.Cli.Reflection;

/// <summary>
/// --proto: the services and types of .proto files, for servers without reflection. protobuf-net's
/// parser reads the files (no protoc needed at run time; it knows the well-known types' files
/// itself), its <c>FileDescriptorSet</c> is serialized, and Google.Protobuf parses and builds it as
/// it builds what reflection sends, so calls encode exactly the same either way.
/// </summary>
internal sealed class ProtoFileSource : ISchemaSource
{
    // A .proto file and its imports are read whole; this bounds how much one command reads.
    private const long MaxFileBytes = 16 * 1024 * 1024;

    private readonly SymbolIndex _index;
    private readonly List<string> _services;

    private ProtoFileSource(IReadOnlyList<FileDescriptor> files, IReadOnlyCollection<string> given)
    {
        _index = new SymbolIndex(files);
        // Only the services of the files the user named: imports are types, not what the server serves.
        _services = [.. files.Where(f => given.Contains(f.Name)).SelectMany(f => f.Services).Select(s => s.FullName)];
    }

    /// <summary>Parses <paramref name="protoFiles"/>, finding imports in <paramref name="importPaths"/> and beside each file.</summary>
    /// <exception cref="ToolException">A file or directory is missing, or a file does not parse (the message has file:line:column).</exception>
    public static ProtoFileSource Load(IReadOnlyList<string> protoFiles, IReadOnlyList<string> importPaths)
    {
        var set = new ProtobufNetSet();
        var roots = new List<string>();
        foreach (var path in importPaths)
        {
            var full = Path.GetFullPath(path);
            if (!Directory.Exists(full))
            {
                throw new ToolException(ExitCodes.InvalidArgument, $"Import path '{path}' (-I) is not a directory.");
            }

            roots.Add(full);
            set.AddImportPath(full);
        }

        var given = new List<string>();
        foreach (var file in protoFiles)
        {
            var full = Path.GetFullPath(file);
            if (!File.Exists(full))
            {
                throw new ToolException(ExitCodes.InvalidArgument, $"--proto '{file}': no such file.");
            }

            if (new FileInfo(full).Length > MaxFileBytes)
            {
                throw new ToolException(ExitCodes.InvalidArgument, $"--proto '{file}' is over {MaxFileBytes / (1024 * 1024)} MB.");
            }

            // A file is known by its path under the import path that holds it, as protoc names it;
            // a file under none of them brings its own directory as one.
            var root = roots.FirstOrDefault(r => full.StartsWith(r + Path.DirectorySeparatorChar, StringComparison.Ordinal));
            if (root is null)
            {
                root = Path.GetDirectoryName(full)!;
                roots.Add(root);
                set.AddImportPath(root);
            }

            var name = Path.GetRelativePath(root, full).Replace(Path.DirectorySeparatorChar, '/');
            if (!set.Add(name, includeInOutput: true))
            {
                throw new ToolException(ExitCodes.InvalidArgument, $"--proto '{file}' could not be read as '{name}'.");
            }

            given.Add(name);
        }

        set.Process();
        var errors = set.GetErrors().Where(e => e.IsError).ToList();
        if (errors.Count > 0)
        {
            var message = "The .proto files do not parse:\n" + string.Join('\n', errors.Select(e => e.ToString()));
            if (errors.Any(e => e.Message.StartsWith("unable to find", StringComparison.Ordinal)))
            {
                message += $"\nImports are looked for in {string.Join(", ", roots.Select(r => $"'{r}'"))} (and the well-known types are built in); add a directory with -I DIR.";
            }

            throw new ToolException(ExitCodes.InvalidArgument, message);
        }

        using var buffer = new MemoryStream();
        set.Serialize((files, _) =>
        {
            ProtoBuf.Serializer.Serialize(buffer, files);
            return true;
        }, includeImports: true, state: null);
        var parsed = FileDescriptorSet.Parser.ParseFrom(buffer.ToArray());
        var files = new Dictionary<string, (FileDescriptorProto, ByteString)>(StringComparer.Ordinal);
        foreach (var proto in parsed.File)
        {
            files.TryAdd(proto.Name, (proto, proto.ToByteString()));
        }

        return new ProtoFileSource(DescriptorBuilder.Build(files, "The .proto files"), given);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<string>> ListServicesAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<string>>(_services);

    /// <inheritdoc/>
    public Task<SymbolIndex> ResolveAsync(string symbol, CancellationToken cancellationToken) =>
        _index.Find(symbol) is null
            ? throw new ToolException(ExitCodes.NotFound, $"The .proto files do not define '{symbol}'.", listServices: true)
            : Task.FromResult(_index);
}

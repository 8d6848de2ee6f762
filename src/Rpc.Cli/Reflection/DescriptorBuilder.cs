using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Rpc.Cli.Reflection;

/// <summary>Builds <see cref="FileDescriptor"/>s from serialized <see cref="FileDescriptorProto"/>s, whatever order they came in.</summary>
internal static class DescriptorBuilder
{
    /// <summary>
    /// The files built; <paramref name="files"/> must hold every file any of them imports.
    /// <paramref name="origin"/> names where they came from in errors ("The server's files", "The .proto files").
    /// </summary>
    public static IReadOnlyList<FileDescriptor> Build(IReadOnlyDictionary<string, (FileDescriptorProto Proto, ByteString Bytes)> files, string origin)
    {
        try
        {
            return FileDescriptor.BuildFromByteStrings(TopologicalOrder(files, origin).Select(name => files[name].Bytes));
        }
        catch (ArgumentException e)
        {
            throw new ToolException(ExitCodes.InvalidArgument, $"{origin} do not make valid descriptors: {e.Message}");
        }
    }

    private static List<string> TopologicalOrder(IReadOnlyDictionary<string, (FileDescriptorProto Proto, ByteString Bytes)> files, string origin)
    {
        // BuildFromByteStrings needs each file after the files it imports.
        var order = new List<string>();
        var done = new HashSet<string>(StringComparer.Ordinal);
        var visiting = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in files.Keys)
        {
            Visit(name);
        }

        return order;

        void Visit(string name)
        {
            if (done.Contains(name))
            {
                return;
            }

            if (!visiting.Add(name))
            {
                throw new ToolException(ExitCodes.Internal, $"{origin} import each other in a cycle through '{name}'.");
            }

            if (!files.TryGetValue(name, out var file))
            {
                throw new ToolException(ExitCodes.InvalidArgument, $"{origin} import '{name}', which is not among them.");
            }

            foreach (var dependency in file.Proto.Dependency)
            {
                Visit(dependency);
            }

            done.Add(name);
            order.Add(name);
        }
    }
}

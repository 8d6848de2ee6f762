using Google.Protobuf.Reflection;

namespace Rpc.Cli.Reflection;

/// <summary>The services, methods, messages and enums of a set of built files, by full name.</summary>
internal sealed class SymbolIndex
{
    private readonly Dictionary<string, IDescriptor> _symbols = new(StringComparer.Ordinal);

    public SymbolIndex(IEnumerable<FileDescriptor> files)
    {
        foreach (var file in files)
        {
            foreach (var service in file.Services)
            {
                _symbols[service.FullName] = service;
                foreach (var method in service.Methods)
                {
                    _symbols[method.FullName] = method;
                }
            }

            foreach (var message in file.MessageTypes)
            {
                AddMessage(message);
            }

            foreach (var type in file.EnumTypes)
            {
                _symbols[type.FullName] = type;
            }
        }
    }

    /// <summary>The symbol of that full name (a method also as <c>Service/Method</c>), or null.</summary>
    public IDescriptor? Find(string name) => _symbols.GetValueOrDefault(name.TrimStart('.').Replace('/', '.'));

    private void AddMessage(MessageDescriptor message)
    {
        _symbols[message.FullName] = message;
        foreach (var nested in message.NestedTypes)
        {
            AddMessage(nested);
        }

        foreach (var type in message.EnumTypes)
        {
            _symbols[type.FullName] = type;
        }
    }
}

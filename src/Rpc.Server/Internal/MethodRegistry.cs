using System.Collections.Frozen;
using Grpc.Core.Interceptors;

namespace Rpc.Server.Internal;

/// <summary>The server's methods by full path (<c>/package.Service/Method</c>); frozen at start.</summary>
internal sealed class MethodRegistry
{
    private readonly Dictionary<string, IServerMethod> _methods = new(StringComparer.Ordinal);
    private readonly HashSet<string> _services = new(StringComparer.Ordinal);
    private FrozenDictionary<string, IServerMethod>? _frozen;
    // Over the plain dictionary, which is never written after the freeze: it can hand back its own key.
    private Dictionary<string, IServerMethod>.AlternateLookup<ReadOnlySpan<char>> _byChars;

    /// <summary>Adds the methods of one service, all or none: a clash leaves the registry as it was.</summary>
    /// <exception cref="InvalidOperationException">The server has started, or a method is bound already (the message names it).</exception>
    public void AddAll(IReadOnlyList<IServerMethod> methods, string serviceType)
    {
        if (_frozen is not null)
        {
            throw new InvalidOperationException("Services must be added before the server starts.");
        }

        var paths = new HashSet<string>(StringComparer.Ordinal);
        foreach (var method in methods)
        {
            if (_methods.ContainsKey(method.FullName) || !paths.Add(method.FullName))
            {
                throw new InvalidOperationException(
                    $"Cannot add '{serviceType}': the method '{method.FullName}' is already bound (was the service, or another implementation of it, added before?).");
            }
        }

        foreach (var method in methods)
        {
            _methods.Add(method.FullName, method);
            _services.Add(method.ServiceName);
        }
    }

    /// <summary>Wraps each handler in the interceptors and freezes the table for lock-free lookups.</summary>
    public void Freeze(IReadOnlyList<Interceptor> interceptors)
    {
        foreach (var method in _methods.Values)
        {
            method.Intercept(interceptors);
        }

        _frozen = _methods.ToFrozenDictionary(StringComparer.Ordinal);
        _byChars = _methods.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The registered string for <paramref name="path"/>, if a method is bound there.</summary>
    public string? FindPath(ReadOnlySpan<char> path) =>
        _frozen is not null && _byChars.TryGetValue(path, out var key, out _) ? key : null;

    /// <summary>Every bound method; read after the freeze, when nothing writes the table.</summary>
    public IEnumerable<IServerMethod> All => _methods.Values;

    public IServerMethod? Find(string path) => _frozen!.GetValueOrDefault(path);

    /// <summary>The gRPC status detail for a path with no handler.</summary>
    public string DescribeMissing(string path)
    {
        var slash = path.LastIndexOf('/');
        var service = slash > 1 ? path[1..slash] : string.Empty;
        return _services.Contains(service) ? "Method is unimplemented." : "Service is unimplemented.";
    }
}

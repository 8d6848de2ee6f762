using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Rpc.Server.Internal;

/// <summary>What every call of one server shares: options, logging, methods, and the calls in flight.</summary>
internal sealed class ServerCallEnvironment
{
    private readonly ConcurrentDictionary<ServerCall, byte> _calls = new();

    public ServerCallEnvironment(RpcServerOptions options, ILogger logger)
    {
        Options = options;
        Logger = logger;
    }

    public RpcServerOptions Options { get; }

    public ILogger Logger { get; }

    public MethodRegistry Methods { get; } = new();

    public ICollection<ServerCall> Calls => _calls.Keys;

    public void Track(ServerCall call) => _calls.TryAdd(call, 0);

    public void Untrack(ServerCall call) => _calls.TryRemove(call, out _);
}

using Microsoft.Extensions.Logging;

namespace Rpc.Server.Internal;

/// <summary>What every call of one server shares: options, logging, methods, and the calls in flight.</summary>
internal sealed class ServerCallEnvironment
{
    // A set under a lock rather than a concurrent dictionary: no allocation per call once grown.
    private readonly HashSet<ServerCall> _calls = [];
    private readonly Lock _lock = new();

    public ServerCallEnvironment(RpcServerOptions options, ILogger logger)
    {
        Options = options;
        Logger = logger;
    }

    public RpcServerOptions Options { get; }

    public ILogger Logger { get; }

    public MethodRegistry Methods { get; } = new();

    /// <summary>Runs an accepted call: on the thread pool, or where a test holds it to force an interleaving.</summary>
    public Action<IThreadPoolWorkItem> Schedule
    {
        get;
        set
        {
            field = value;
            IsScheduleReplaced = true;
        }
    } = static call => ThreadPool.UnsafeQueueUserWorkItem(call, preferLocal: false);

    /// <summary>A test replaced <see cref="Schedule"/>: every call goes through it, none starts on a receive thread.</summary>
    public bool IsScheduleReplaced { get; private set; }

    /// <summary>The calls in flight at this moment.</summary>
    public List<ServerCall> Calls
    {
        get
        {
            lock (_lock)
            {
                return [.. _calls];
            }
        }
    }

    public void Track(ServerCall call)
    {
        lock (_lock)
        {
            _calls.Add(call);
        }
    }

    public void Untrack(ServerCall call)
    {
        lock (_lock)
        {
            _calls.Remove(call);
        }
    }
}

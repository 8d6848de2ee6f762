namespace Rpc.Server;

// Where handlers run (docs/scheduling.md), named after Kestrel's option of the same meaning.
public sealed partial class RpcServerOptions
{
    /// <summary>
    /// Runs each call's handler on the thread that received it (the connection's receive loop)
    /// instead of queueing it to the thread pool, and resumes a handler waiting for its next request
    /// message there too, as Kestrel's socket transport option of the same name does for its
    /// connections. Default: false.
    /// </summary>
    /// <remarks>
    /// <para>Safe only when every handler (and interceptor) is asynchronous all the way and never
    /// blocks: no <c>Task.Wait</c>, <c>.Result</c>, locks held long, synchronous I/O or long CPU work
    /// before its first <c>await</c> that does not complete at once.</para>
    /// <para>Misuse stalls one connection, never the server: while a handler blocks, that
    /// connection reads nothing, so its other calls (and its pings and flow-control updates) wait
    /// until the handler returns or awaits; calls on every other connection go on. Deadlines of
    /// the stalled calls still fire, but their handlers see them only once the loop runs again.</para>
    /// <para>Read when a connection is accepted; set before <see cref="RpcServer.StartAsync"/>.
    /// Bound from <c>Rpc:Server:UnsafePreferInlineScheduling</c> by the hosting integration.</para>
    /// </remarks>
    public bool UnsafePreferInlineScheduling { get; set; }
}

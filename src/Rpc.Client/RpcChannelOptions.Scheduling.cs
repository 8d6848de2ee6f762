namespace Rpc.Client;

// Where a call's continuations run (docs/scheduling.md), named after Kestrel's option of the same meaning.
public sealed partial class RpcChannelOptions
{
    /// <summary>
    /// Completes calls on the thread that received their responses (the connection's receive loop)
    /// instead of the thread pool: an <c>await</c> on a response, a response stream's
    /// <c>MoveNext</c> or the response headers continues on that thread. Default: false.
    /// </summary>
    /// <remarks>
    /// <para>Safe only when the code after every such <c>await</c> does not block (no
    /// <c>Task.Wait</c>, <c>.Result</c>, long locks, synchronous I/O or long CPU work) before its
    /// next <c>await</c> that does not complete at once.</para>
    /// <para>Misuse stalls one connection, never the process: while a continuation blocks, the
    /// channel's connection reads nothing, so its other calls wait until it returns or awaits; other
    /// channels (other connections) go on. A blocked continuation that waits for a response of the
    /// same connection never gets it until its own deadline or cancellation ends that wait.</para>
    /// <para>Blocking stubs (<c>client.Method(request)</c>) get the hop-free completion without this
    /// option: the read loop wakes the waiting caller directly and runs no user code.</para>
    /// </remarks>
    public bool UnsafePreferInlineScheduling { get; set; }
}

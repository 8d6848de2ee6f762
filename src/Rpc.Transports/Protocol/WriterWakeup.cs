namespace Rpc.Transports.Protocol;

/// <summary>
/// Wakes a writer waiting for flow-control credit. The credit comes with a WINDOW_UPDATE the read
/// loop parses, so the writer (a handler streaming its responses, say) resumes on the connection's
/// receive thread after the parse when it can (<see cref="Internal.DeferredWork"/>), otherwise on
/// the thread pool; never inside the read loop. Its signal is made with
/// <see cref="TaskCreationOptions.None"/> for that reason: whoever completes it chooses the thread.
/// </summary>
internal static class WriterWakeup
{
    private static readonly Action<object?> s_complete = static signal => ((TaskCompletionSource)signal!).TrySetResult();

    /// <summary>A signal whose waiter runs where <see cref="Wake"/> puts it.</summary>
    public static TaskCompletionSource NewSignal() => new(TaskCreationOptions.None);

    public static void Wake(TaskCompletionSource signal, MultiplexedConnection? connection)
    {
        if (connection is null || !connection.TryDefer(s_complete, signal))
        {
            ThreadPool.UnsafeQueueUserWorkItem(s_complete, signal, preferLocal: false);
        }
    }
}

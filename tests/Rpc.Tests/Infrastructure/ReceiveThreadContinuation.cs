namespace Rpc.Tests.Infrastructure;

/// <summary>
/// Runs code in a client continuation that runs on a connection's receive thread. That happens
/// only when the response came after the await was registered; a response that won the race is
/// retried (the receive thread is a dedicated thread, never a pool thread).
/// </summary>
internal static class ReceiveThreadContinuation
{
    private const int Attempts = 100;

    /// <summary>
    /// Awaits <paramref name="call"/> until its continuation runs on a receive thread, then runs
    /// <paramref name="onReceiveThread"/> there; <paramref name="otherwise"/> when no attempt did.
    /// </summary>
    public static Task<T> RunAsync<T>(Func<Task> call, Func<T> onReceiveThread, T otherwise) => Task.Run(async () =>
    {
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            await call();
            if (!Thread.CurrentThread.IsThreadPoolThread)
            {
                return onReceiveThread();
            }
        }

        return otherwise;
    });
}

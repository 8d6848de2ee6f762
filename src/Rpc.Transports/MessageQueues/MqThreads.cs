using Rpc.Transports.Internal;

namespace Rpc.Transports.MessageQueues;

/// <summary>A message-queue connection's two threads (receive, and wait-for-room) against the process's <see cref="ReceiveThreads.Max"/>.</summary>
internal static class MqThreads
{
    public const int PerConnection = 2;

    public static bool TryReserve()
    {
        if (!ReceiveThreads.TryReserve())
        {
            return false;
        }

        if (ReceiveThreads.TryReserve())
        {
            return true;
        }

        ReceiveThreads.Release();
        return false;
    }

    public static void Release()
    {
        ReceiveThreads.Release();
        ReceiveThreads.Release();
    }
}

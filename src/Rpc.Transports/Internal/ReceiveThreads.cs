namespace Rpc.Transports.Internal;

/// <summary>
/// Counts the receive threads connections hold in this process. A thread per connection is what
/// makes a local call fast, but a server with thousands of clients must not hold thousands of
/// threads: past <see cref="Max"/>, new connections receive asynchronously instead.
/// </summary>
internal static class ReceiveThreads
{
    public const int Max = 256;

    private static int s_count;

    public static int Count => Volatile.Read(ref s_count);

    public static bool TryReserve()
    {
        if (Interlocked.Increment(ref s_count) <= Max)
        {
            return true;
        }

        Interlocked.Decrement(ref s_count);
        return false;
    }

    public static void Release() => Interlocked.Decrement(ref s_count);
}

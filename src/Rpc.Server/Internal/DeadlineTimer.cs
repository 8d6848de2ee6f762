namespace Rpc.Server.Internal;

/// <summary>Turns a call's timeout from the wire into the time the call may take (timers: <c>LongTimer</c>).</summary>
internal static class DeadlineTimer
{
    /// <summary>
    /// The timeout a call start carries, from <paramref name="now"/>; <see langword="null"/> (no
    /// deadline) when it lies beyond what <see cref="DateTime"/> can hold, as a timeout of
    /// thousands of years means in practice. A negative one has passed already.
    /// </summary>
    public static TimeSpan? ToTimeout(long microseconds, DateTime now)
    {
        if (microseconds <= 0)
        {
            return TimeSpan.Zero;
        }

        if (microseconds >= TimeSpan.MaxValue.Ticks / TimeSpan.TicksPerMicrosecond)
        {
            return null;
        }

        var timeout = TimeSpan.FromMicroseconds(microseconds);
        return timeout < DateTime.MaxValue - now ? timeout : null;
    }
}

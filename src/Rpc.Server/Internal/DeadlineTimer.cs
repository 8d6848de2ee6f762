namespace Rpc.Server.Internal;

/// <summary>Turns a call's timeout from the wire into a deadline and timer due times that .NET accepts.</summary>
internal static class DeadlineTimer
{
    // .NET timers take at most 2^32 - 2 ms (about 49.7 days), the cap grpc-dotnet uses too; a
    // deadline further out re-arms the timer when it fires.
    private static readonly TimeSpan MaxDueTime = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>The due time to set for a deadline <paramref name="remaining"/> away: that, or the cap.</summary>
    public static TimeSpan DueTime(TimeSpan remaining) => remaining < MaxDueTime ? remaining : MaxDueTime;

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

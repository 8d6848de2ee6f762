namespace Rpc.Client.Internal;

/// <summary>How far ahead a timer may be set: .NET timers take at most 2^32 - 2 ms (about 49.7 days).</summary>
internal static class DeadlineTimer
{
    // The same cap grpc-dotnet uses; a deadline further out re-arms the timer when it fires.
    private static readonly TimeSpan MaxDueTime = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>The due time to set for a deadline <paramref name="remaining"/> away: that, or the cap.</summary>
    public static TimeSpan DueTime(TimeSpan remaining) => remaining < MaxDueTime ? remaining : MaxDueTime;
}

namespace Rpc.Transports.Internal;

/// <summary>
/// Deadline timers for any distance: .NET timers take at most 2^32 - 2 ms (about 49.7 days), the
/// cap grpc-dotnet uses too, so a deadline further out sets the cap and re-arms when it fires.
/// Shared by the client's and the server's calls.
/// </summary>
internal static class LongTimer
{
    private static readonly TimeSpan MaxDueTime = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>The due time to set for a deadline <paramref name="remaining"/> away: that, or the cap.</summary>
    public static TimeSpan DueTime(TimeSpan remaining) => remaining < MaxDueTime ? remaining : MaxDueTime;

    /// <summary>
    /// On the timer's callback: re-arms <paramref name="timer"/> when <paramref name="deadline"/> is
    /// not due yet and says so; false means the deadline has passed. A timer not yet stored (a short
    /// one can fire before its creator stores it) counts as due.
    /// </summary>
    public static bool TryRearm(ITimer? timer, DateTime deadline)
    {
        var remaining = deadline - DateTime.UtcNow;
        if (remaining <= TimeSpan.Zero || timer is null)
        {
            return false;
        }

        try
        {
            timer.Change(DueTime(remaining), Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // The call finished meanwhile; nothing is left to time out.
        }

        return true;
    }
}

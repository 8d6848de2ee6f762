namespace Rpc.Transports.Protocol;

/// <summary>
/// How many streams a peer may have reset or refused, as a token bucket (nghttp2's answer to
/// CVE-2023-44487, "rapid reset"): a burst is allowed, then resets are refilled at a steady rate.
/// Each reset of a stream whose call had not finished, and each refused stream, made this side
/// start work for nothing; a peer that does so faster than the rate for longer than the burst is
/// attacking, not cancelling. Owned by the connection's read loop alone, so it takes no lock.
/// </summary>
internal sealed class ResetBudget(int burst, double perSecond, TimeProvider time)
{
    private double _tokens = burst;
    private long _refilledAt = time.GetTimestamp();

    /// <summary>Read loop: spends one reset; false once the peer has run through its budget.</summary>
    public bool TrySpend()
    {
        var now = time.GetTimestamp();
        _tokens = Math.Min(burst, _tokens + (time.GetElapsedTime(_refilledAt, now).TotalSeconds * perSecond));
        _refilledAt = now;
        if (_tokens < 1)
        {
            return false;
        }

        _tokens--;
        return true;
    }
}

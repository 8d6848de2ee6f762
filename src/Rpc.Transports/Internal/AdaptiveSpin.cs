namespace Rpc.Transports.Internal;

/// <summary>
/// How long a receive thread spins before it sleeps, judged by what its spins caught. A spin
/// that catches the reply keeps the budget; a miss where the bytes came within a few maximum
/// spins restores the maximum, since a longer spin would (nearly) have caught them; a miss where
/// they came far later (a peer that answers slowly, a caller that calls now and then, an idle
/// gap) halves it, down to <see cref="Floor"/>. So a connection whose peer answers within the
/// spin spins, and one whose peer does not stops burning a core on it. Bounded by the transport's
/// <c>SpinDuration</c>; an idle connection spins at most once before it sleeps, whatever the budget.
/// </summary>
/// <remarks>
/// "Within a few maximum spins", not "within one": the wait a miss measures includes the sleeping
/// thread's wake-up, 50–100 µs on the machines we measure on, so a reply 16 µs away measures as
/// 60–120 µs, and a rule that restored only waits under one maximum spin would never restore a
/// budget that idle gaps had shrunk. Judged by the catch, not by the average wait: a rule that
/// stopped spinning once the average wait passed the spin measured rpc-shm unary p50 39.5 → 90.6
/// µs (the waits that each needed a wake-up then grew longer still). Owned by the one receive thread that waits; not thread-safe.
/// </remarks>
internal struct AdaptiveSpin
{
    // Far: bytes this many maximum spins after the wait began (wake-up included) would not have been caught by any spin.
    private const int FarInSpins = 4;

    private readonly long _most;
    private long _budget;

    /// <param name="most">The longest spin, in <see cref="System.Diagnostics.Stopwatch"/> ticks; 0 never spins.</param>
    public AdaptiveSpin(long most)
    {
        _most = Math.Max(0, most);
        _budget = _most;
    }

    /// <summary>The shortest a budget shrinks to, so that a peer that speeds up is noticed again.</summary>
    public readonly long Floor => _most / 16;

    /// <summary>How long the next wait spins.</summary>
    public readonly long Budget => _budget;

    /// <summary>The spin ended without the reply; it came <paramref name="waited"/> ticks after the wait began.</summary>
    public void Missed(long waited)
    {
        _budget = waited <= FarInSpins * _most ? _most : Math.Max(Floor, _budget / 2);
    }
}

using System.Diagnostics;

namespace Rpc.Benchmarks;

/// <summary>
/// Bytes allocated on the managed heap by each process while a measurement runs: the load tool's
/// own from <see cref="GC.GetTotalAllocatedBytes(bool)"/>, the server's through its
/// <c>BenchStats.Allocated</c> call. Both are whole-process figures; the load tool drives one target
/// at a time, and the other channels it holds are idle, so the deltas are that target's calls
/// (plus one tiny stats call each side, negligible over the hundreds of calls measured).
/// </summary>
public sealed class AllocationProbe
{
    private static readonly TimeSpan StatsDeadline = TimeSpan.FromSeconds(10);

    private readonly BenchStats.BenchStatsClient? _stats;
    private long _serverBefore;
    private long _clientBefore;

    private AllocationProbe(BenchStats.BenchStatsClient? stats) => _stats = stats;

    /// <summary>Takes the "before" readings: the server's first, so the client's delta does not count that call.</summary>
    public static async Task<AllocationProbe> StartAsync(BenchStats.BenchStatsClient? stats)
    {
        var probe = new AllocationProbe(stats);
        probe._serverBefore = await probe.ServerAllocatedAsync();
        probe._clientBefore = GC.GetTotalAllocatedBytes(precise: true);
        return probe;
    }

    /// <summary>KiB allocated per call on the client and on the server (NaN for the server when no stats channel was given).</summary>
    public async Task<(double ClientKiB, double ServerKiB)> StopAsync(long calls)
    {
        Debug.Assert(calls > 0);
        var client = GC.GetTotalAllocatedBytes(precise: true) - _clientBefore;
        var server = _stats is null ? double.NaN : await ServerAllocatedAsync() - _serverBefore;
        return (client / 1024.0 / calls, server / 1024.0 / calls);
    }

    /// <summary>The two figures as a measurement's details.</summary>
    public static Dictionary<string, double> Details((double ClientKiB, double ServerKiB) perCall)
    {
        var details = new Dictionary<string, double> { ["client KiB/call"] = perCall.ClientKiB };
        if (!double.IsNaN(perCall.ServerKiB))
        {
            details["server KiB/call"] = perCall.ServerKiB;
        }

        return details;
    }

    private async Task<long> ServerAllocatedAsync() =>
        _stats is null ? 0 : (await _stats.AllocatedAsync(new AllocatedRequest(), deadline: DateTime.UtcNow.Add(StatsDeadline))).Bytes;
}

namespace Rpc.Transports.Protocol;

/// <summary>
/// The streams of one connection with a message half assembled. Owned by the read loop: only it
/// adds, removes and frees. Other threads that close a stream call <see cref="RequestSweep"/>,
/// which only raises a flag; the read loop frees the assemblies of closed streams at its next
/// turn, and all of them when it ends. So a pooled array is never returned twice nor written after
/// it was returned, whatever thread resets the stream.
/// </summary>
internal sealed class AssemblySweeper
{
    private readonly HashSet<CallStream> _assembling = [];
    private volatile bool _sweepRequested;

    public int Count => _assembling.Count;

    /// <summary>Read loop: <paramref name="stream"/> started a message that spans frames.</summary>
    public void Add(CallStream stream) => _assembling.Add(stream);

    /// <summary>Read loop: <paramref name="stream"/>'s assembly was handed on or freed.</summary>
    public void Remove(CallStream stream) => _assembling.Remove(stream);

    /// <summary>Any thread: a stream was closed outside the read loop.</summary>
    public void RequestSweep() => _sweepRequested = true;

    /// <summary>Read loop: frees the assemblies of streams closed since the last sweep.</summary>
    public void SweepIfRequested()
    {
        if (!_sweepRequested)
        {
            return;
        }

        _sweepRequested = false;
        if (_assembling.Count == 0)
        {
            return;
        }

        foreach (var stream in _assembling.Where(static s => s.IsClosed).ToList())
        {
            stream.ReleaseAssembly();
        }
    }

    /// <summary>Read loop, as it ends: frees every assembly left.</summary>
    public void ReleaseAll()
    {
        foreach (var stream in _assembling.ToList())
        {
            stream.ReleaseAssembly();
        }
    }
}

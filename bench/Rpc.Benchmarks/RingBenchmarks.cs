using BenchmarkDotNet.Attributes;
using Rpc.Transports.SharedMemory;

namespace Rpc.Benchmarks;

/// <summary>The ring's own cost: one 64-byte write and read, no waiting involved.</summary>
[MemoryDiagnoser]
public class RingBenchmarks
{
    private readonly byte[] _message = new byte[64];
    private readonly byte[] _received = new byte[64];
    private SharedSegment _segment = null!;
    private SharedRing _ring = null!;

    [GlobalSetup]
    public void Setup()
    {
        _segment = SharedSegment.Create("bdn-" + Environment.ProcessId, 1 << 20);
        _ring = _segment.GetRing(0, TimeSpan.Zero);
        _ring.Write(_message);
        if (_ring.Read(_received) != 64)
        {
            throw new InvalidOperationException("The ring does not round-trip.");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _segment.Dispose();

    [Benchmark]
    public int WriteThenRead64Bytes()
    {
        _ring.Write(_message);
        return _ring.Read(_received);
    }
}

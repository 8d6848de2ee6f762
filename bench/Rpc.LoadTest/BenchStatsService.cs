using Grpc.Core;

namespace Rpc.Benchmarks;

/// <summary>Tells the load tool how many bytes the server process has allocated, so it can report them per call.</summary>
public sealed class BenchStatsService : BenchStats.BenchStatsBase
{
    // precise: true folds in what each thread's allocation context has handed out but not yet
    // reported; without it a reading can lag by up to a context (about 8 KiB) per thread.
    public override Task<AllocatedReply> Allocated(AllocatedRequest request, ServerCallContext context) =>
        Task.FromResult(new AllocatedReply { Bytes = GC.GetTotalAllocatedBytes(precise: true) });
}

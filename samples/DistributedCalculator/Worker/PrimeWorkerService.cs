using DistributedCalculator.Primes;
using DistributedCalculator.Protos;
using Grpc.Core;

namespace DistributedCalculator.Worker;

/// <summary>The worker's service: one segment per call, sieved on the thread pool.</summary>
public sealed class PrimeWorkerService(WorkerOptions options, string name) : PrimeWorker.PrimeWorkerBase
{
    private int _held;

    /// <inheritdoc/>
    public override async Task<SegmentResult> CountPrimes(Segment request, ServerCallContext context)
    {
        if (request.Start < 0 || request.End < request.Start || request.End - request.Start > SegmentSieve.MaxWidth || request.End > SegmentSieve.MaxEnd)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                $"A segment is 0 <= start <= end <= {SegmentSieve.MaxEnd}, at most {SegmentSieve.MaxWidth} wide; got [{request.Start}, {request.End})."));
        }

        if (options.Hold == HoldMode.All || (options.Hold == HoldMode.First && Interlocked.Exchange(ref _held, 1) == 0))
        {
            // Announced before holding, so a test knows the segment is in this process's hands.
            Console.Out.WriteLine($"HOLDING {request.Id}");
            Console.Out.Flush();
            // Released only by the call's end: its deadline, its cancellation, or this process dying.
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        }

        if (options.Delay > TimeSpan.Zero)
        {
            await Task.Delay(options.Delay, context.CancellationToken);
        }

        var token = context.CancellationToken;
        var tally = await Task.Run(() => SegmentSieve.Count(request.Start, request.End, token), token);
        return new SegmentResult { Id = request.Id, Count = tally.Count, Sum = tally.Sum, WorkerPid = Environment.ProcessId };
    }

    /// <inheritdoc/>
    public override Task<WorkerInfo> Describe(DescribeRequest request, ServerCallContext context) =>
        Task.FromResult(new WorkerInfo { Pid = Environment.ProcessId, Name = name });
}

using System.Diagnostics;
using System.Threading.Channels;
using DistributedCalculator.Primes;
using DistributedCalculator.Protos;
using Grpc.Core;

namespace DistributedCalculator.Coordinator;

/// <summary>
/// Hands segments to workers and adds up their answers. Each worker has one loop that takes a
/// segment from a shared queue, calls the worker with a per-segment deadline, and on success
/// records the answer; on failure it puts the segment back for any worker to take. A worker whose
/// call failed for any reason but a deadline (its process died, its connection broke) gets no more
/// segments; one that missed <see cref="CoordinatorOptions.MaxTimeouts"/> deadlines in a row is
/// dropped as too slow. The run ends when every segment has an answer, or fails when no worker is left.
/// </summary>
public sealed class Scheduler
{
    private readonly CoordinatorOptions _options;
    private readonly IReadOnlyList<WorkerHandle> _workers;
    private readonly Segment[] _segments;
    // Each segment is in the queue at most once at a time, so its capacity never makes a writer wait.
    private readonly Channel<Segment> _queue;
    // Written once per segment by the loop whose call answered it; read after every loop has ended.
    private readonly PrimeTally?[] _answers;
    private int _pending;
    private int _alive;

    /// <summary>Cuts [0, limit) into segments for these workers.</summary>
    public Scheduler(CoordinatorOptions options, IReadOnlyList<WorkerHandle> workers)
    {
        _options = options;
        // Workers dropped before the run (unreachable) get no loop.
        _workers = [.. workers.Where(w => w.DroppedBecause is null)];
        _segments = Split(options.Limit, options.Segments);
        _queue = Channel.CreateBounded<Segment>(new BoundedChannelOptions(_segments.Length) { SingleWriter = false, SingleReader = false });
        _answers = new PrimeTally?[_segments.Length];
        _pending = _segments.Length;
        _alive = _workers.Count;
    }

    /// <summary>How many segments there are.</summary>
    public int SegmentCount => _segments.Length;

    /// <summary>How many segments have their answer.</summary>
    public int Done => _segments.Length - Volatile.Read(ref _pending);

    /// <summary>Runs every worker's loop to the end; the sum of all answers, or an exception when workers ran out.</summary>
    public async Task<PrimeTally> RunAsync(CancellationToken cancellationToken)
    {
        // The first segments are handed out before any loop starts, one to each worker, so every
        // worker holds work from the start, whatever the thread pool schedules first.
        var first = _segments.Take(_workers.Count).ToArray();
        foreach (var segment in _segments.Skip(first.Length))
        {
            _queue.Writer.TryWrite(segment);
        }

        if (_workers.Count == 0)
        {
            throw new InvalidOperationException("No worker could be reached.");
        }

        var loops = _workers.Select((worker, i) => Task.Run(() => LoopAsync(worker, i < first.Length ? first[i] : null, cancellationToken), cancellationToken)).ToArray();
        await Task.WhenAll(loops);
        if (Volatile.Read(ref _pending) > 0)
        {
            throw new InvalidOperationException($"Every worker was dropped with {_pending} of {_segments.Length} segments unanswered.");
        }

        return _answers.Aggregate(default(PrimeTally), (total, answer) => total + answer!.Value);
    }

    private async Task LoopAsync(WorkerHandle worker, Segment? next, CancellationToken cancellationToken)
    {
        var timeoutsInARow = 0;
        while (true)
        {
            if (next is null)
            {
                if (!await _queue.Reader.WaitToReadAsync(cancellationToken) || !_queue.Reader.TryRead(out next))
                {
                    if (_queue.Reader.Completion.IsCompleted)
                    {
                        return;
                    }

                    continue;
                }
            }

            var segment = next;
            next = null;
            var clock = Stopwatch.StartNew();
            try
            {
                var answer = await worker.Client.CountPrimesAsync(segment, deadline: DateTime.UtcNow + _options.SegmentDeadline, cancellationToken: cancellationToken);
                worker.RecordCall(clock.Elapsed, segment.End - segment.Start, answered: true);
                timeoutsInARow = 0;
                _answers[segment.Id] = new PrimeTally(answer.Count, answer.Sum);
                if (Interlocked.Decrement(ref _pending) == 0)
                {
                    _queue.Writer.TryComplete();
                }
            }
            catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
            {
                worker.RecordCall(clock.Elapsed, 0, answered: false);
                _queue.Writer.TryWrite(segment);
                if (e.StatusCode == StatusCode.DeadlineExceeded && ++timeoutsInARow < _options.MaxTimeouts)
                {
                    continue;
                }

                worker.Drop(e.StatusCode == StatusCode.DeadlineExceeded
                    ? $"too slow: missed {timeoutsInARow} deadline(s) of {_options.SegmentDeadline.TotalSeconds:0.#} s in a row"
                    : $"{e.StatusCode}: {e.Status.Detail}");
                if (Interlocked.Decrement(ref _alive) == 0)
                {
                    // Nobody is left to take what is queued: end the other loops' waits (there are none running).
                    _queue.Writer.TryComplete();
                }

                return;
            }
        }
    }

    private static Segment[] Split(long limit, int count)
    {
        var width = (limit + count - 1) / count;
        var segments = new List<Segment>(count);
        for (long start = 0; start < limit; start += width)
        {
            segments.Add(new Segment { Id = segments.Count, Start = start, End = Math.Min(limit, start + width) });
        }

        return [.. segments];
    }
}

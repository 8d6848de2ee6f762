using System.Diagnostics;
using DistributedCalculator.Protos;
using Rpc.Client;

namespace DistributedCalculator.Coordinator;

/// <summary>
/// One worker as the coordinator sees it: its channel, the child process when the coordinator
/// started it, and what it did. The counters are written only by the worker's own loop in
/// <see cref="Scheduler"/>; the progress display reads them while the loop runs (a torn read there
/// only shows a stale number), the final table after every loop has ended.
/// </summary>
public sealed class WorkerHandle(string name, string transport, RpcChannel channel, Process? child, Task? outputDrain) : IAsyncDisposable
{
    private long _segments;
    private long _numbers;
    private long _calls;
    private long _busyTicks;

    /// <summary>How the table names it: the address, or the kind of child.</summary>
    public string Name { get; } = name;

    /// <summary>The transport its calls travel on.</summary>
    public string Transport { get; } = transport;

    /// <summary>The generated client on the worker's channel.</summary>
    public PrimeWorker.PrimeWorkerClient Client { get; } = new(channel);

    /// <summary>The worker's process id, as it reported it (or as the coordinator started it).</summary>
    public string Pid { get; private set; } = child is null ? "-" : child.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The worker's process, when the coordinator started it.</summary>
    public Process? Child { get; } = child;

    /// <summary>Segments it answered.</summary>
    public long Segments => Volatile.Read(ref _segments);

    /// <summary>Numbers in the segments it answered.</summary>
    public long Numbers => Volatile.Read(ref _numbers);

    /// <summary>Calls made to it, failed ones included.</summary>
    public long Calls => Volatile.Read(ref _calls);

    /// <summary>Time its calls took, failed ones included.</summary>
    public TimeSpan Busy => TimeSpan.FromTicks(Volatile.Read(ref _busyTicks));

    /// <summary>Segments it failed to answer (each went back to the queue).</summary>
    public int Failures { get; private set; }

    /// <summary>Null while it works; why it was dropped otherwise.</summary>
    public string? DroppedBecause { get; private set; }

    /// <summary>
    /// Connects and asks the worker who it is, before any segment is handed out, so the run's times
    /// are of work rather than of connecting; a worker that does not answer is dropped here.
    /// </summary>
    public async Task IntroduceAsync(TimeSpan deadline, CancellationToken cancellationToken)
    {
        try
        {
            var info = await Client.DescribeAsync(new DescribeRequest(), deadline: DateTime.UtcNow + deadline, cancellationToken: cancellationToken);
            Pid = info.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Grpc.Core.RpcException e) when (!cancellationToken.IsCancellationRequested)
        {
            Drop($"unreachable: {e.StatusCode}: {e.Status.Detail}");
        }
    }

    /// <summary>The loop's record of one call.</summary>
    public void RecordCall(TimeSpan took, long numbers, bool answered)
    {
        Interlocked.Increment(ref _calls);
        Interlocked.Add(ref _busyTicks, took.Ticks);
        if (answered)
        {
            Interlocked.Increment(ref _segments);
            Interlocked.Add(ref _numbers, numbers);
        }
        else
        {
            Failures++;
        }
    }

    /// <summary>The loop gives up on this worker.</summary>
    public void Drop(string reason) => DroppedBecause = reason;

    /// <summary>Closes the channel; a child sees its pipes or stdin close and exits, or is killed.</summary>
    public async ValueTask DisposeAsync()
    {
        await channel.DisposeAsync();
        if (Child is { } process)
        {
            if (process.StartInfo.RedirectStandardInput)
            {
                process.StandardInput.Close();
            }

            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
            }

            process.Dispose();
        }

        if (outputDrain is not null)
        {
            await outputDrain.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}

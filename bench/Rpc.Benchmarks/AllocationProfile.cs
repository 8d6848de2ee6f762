using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Rpc.Benchmarks;

/// <summary>
/// Which types a unary call allocates, sampled from the runtime's AllocationTick events (one per
/// ~100 KB allocated): `Rpc.Benchmarks alloc` prints the top types over many in-process calls.
/// </summary>
public static class AllocationProfile
{
    public static async Task RunAsync(int calls)
    {
        var benchmark = new UnaryCallBenchmarks();
        await benchmark.SetupAsync();
        for (var i = 0; i < 2_000; i++)
        {
            await benchmark.RpcUnary();
        }

        using var listener = new AllocationListener();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < calls; i++)
        {
            await benchmark.RpcUnary();
        }

        var perCall = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)calls;
        await benchmark.CleanupAsync();
        Console.WriteLine($"{perCall:0} bytes allocated per call (client and server, whole process)");
        var total = listener.Samples.Values.Sum();
        foreach (var (type, bytes) in listener.Samples.OrderByDescending(p => p.Value).Take(30))
        {
            Console.WriteLine($"{bytes * perCall / total,8:0} B/call  {type}");
        }
    }

    private sealed class AllocationListener : EventListener
    {
        public ConcurrentDictionary<string, long> Samples { get; } = new();

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (eventData.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) == true && eventData.Payload is { } payload)
            {
                var type = payload[eventData.PayloadNames!.IndexOf("TypeName")] as string ?? "?";
                var amount = Convert.ToInt64(payload[eventData.PayloadNames!.IndexOf("AllocationAmount")], System.Globalization.CultureInfo.InvariantCulture);
                Samples.AddOrUpdate(type, amount, (_, sum) => sum + amount);
            }
        }
    }
}

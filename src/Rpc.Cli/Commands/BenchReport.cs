using System.Globalization;
using Spectre.Console;

namespace Rpc.Cli.Commands;

/// <summary>The bench's summary: calls/s, latency percentiles and a latency histogram.</summary>
internal static class BenchReport
{
    private const int Buckets = 10;

    public static void Write(IAnsiConsole console, BenchRun run, TimeSpan elapsed)
    {
        var latencies = run.LatenciesMs();
        Array.Sort(latencies);
        var table = new Table().AddColumns("calls", "failed", "seconds", "calls/s", "p50 ms", "p90 ms", "p99 ms", "max ms");
        table.AddRow(
            latencies.Length.ToString(CultureInfo.InvariantCulture),
            run.Failed.ToString(CultureInfo.InvariantCulture),
            elapsed.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture),
            (latencies.Length / elapsed.TotalSeconds).ToString("F0", CultureInfo.InvariantCulture),
            Ms(Percentile(latencies, 0.50)), Ms(Percentile(latencies, 0.90)), Ms(Percentile(latencies, 0.99)), Ms(latencies.LastOrDefault()));
        console.Write(table);
        if (latencies.Length == 0)
        {
            return;
        }

        // Buckets evenly over [min, p99] and one for the tail, so one outlier does not flatten the chart.
        var low = latencies[0];
        var high = Math.Max(Percentile(latencies, 0.99), low + 0.001);
        var width = (high - low) / Buckets;
        var counts = new int[Buckets + 1];
        foreach (var latency in latencies)
        {
            counts[latency > high ? Buckets : Math.Min((int)((latency - low) / width), Buckets - 1)]++;
        }

        var chart = new BarChart().Label("latency histogram (ms)").Width(70);
        for (var i = 0; i < Buckets; i++)
        {
            chart.AddItem($"{Ms(low + (i * width))}-{Ms(low + ((i + 1) * width))}", counts[i], Color.Green);
        }

        chart.AddItem($"> {Ms(high)}", counts[Buckets], Color.Yellow);
        console.Write(chart);
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static string Ms(double value) => value.ToString("F3", CultureInfo.InvariantCulture);
}

using ScottPlot;

namespace Rpc.Benchmarks;

/// <summary>
/// Draws a run's measurements: one image of latencies (absolute µs, lower is better) and one of
/// throughputs as ratios against grpc-dotnet over a Unix socket (higher is better), every target
/// side by side per scenario.
/// </summary>
internal static class Charts
{
    private const string Baseline = "grpc-uds";

    public static void Write(IReadOnlyList<Measurement> measurements, string machine, string directory)
    {
        var latency = measurements.Where(m => m.Unit == "µs").ToList();
        if (latency.Count > 0)
        {
            Draw(latency, m => m.Value, "Latency per transport (p50, lower is better)", "µs", machine,
                Path.Combine(directory, "benchmark-latency.png"));
        }

        var throughput = measurements.Where(m => m.HigherIsBetter && BaselineOf(measurements, m) is not null).ToList();
        if (throughput.Count > 0)
        {
            Draw(throughput, m => m.Value / BaselineOf(measurements, m)!.Value,
                $"Throughput per transport against grpc-dotnet over a Unix socket (higher is better)", $"× {Baseline}", machine,
                Path.Combine(directory, "benchmark-throughput.png"));
        }
    }

    private static Measurement? BaselineOf(IReadOnlyList<Measurement> all, Measurement m) =>
        all.FirstOrDefault(b => b.Scenario == m.Scenario && b.Target == Baseline);

    private static void Draw(List<Measurement> cells, Func<Measurement, double> value, string title, string unit, string machine, string path)
    {
        var scenarios = cells.Select(m => m.Scenario).Distinct().ToList();
        var targets = cells.Select(m => m.Target).Distinct().ToList();
        var palette = new ScottPlot.Palettes.Category10();
        var plot = new Plot();
        var bars = new List<Bar>();
        for (var s = 0; s < scenarios.Count; s++)
        {
            for (var t = 0; t < targets.Count; t++)
            {
                if (cells.FirstOrDefault(m => m.Scenario == scenarios[s] && m.Target == targets[t]) is { } cell)
                {
                    var v = value(cell);
                    bars.Add(new Bar
                    {
                        Position = s * (targets.Count + 1) + t,
                        Value = v,
                        FillColor = palette.GetColor(t),
                        Label = v >= 100 ? v.ToString("0") : v.ToString("0.0"),
                    });
                }
            }
        }

        var barPlot = plot.Add.Bars(bars);
        barPlot.ValueLabelStyle.FontSize = 10;
        var centers = scenarios.Select((_, s) => s * (targets.Count + 1) + (targets.Count - 1) / 2.0).ToArray();
        plot.Axes.Bottom.SetTicks(centers, scenarios.Select(ShortName).ToArray());
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Margins(bottom: 0, top: 0.15);
        for (var t = 0; t < targets.Count; t++)
        {
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = targets[t], FillColor = palette.GetColor(t) });
        }

        plot.Legend.Orientation = Orientation.Horizontal;
        plot.ShowLegend(Edge.Bottom);
        plot.Title(title + "\n" + machine, size: 13);
        plot.YLabel(unit);
        plot.SavePng(path, 1100, 520);
    }

    private static string ShortName(string scenario) => scenario
        .Replace(" sequential latency (p50)", " sequential", StringComparison.Ordinal)
        .Replace(" latency (p50)", string.Empty, StringComparison.Ordinal)
        .Replace("unary 64 B, 64 callers", "unary, 64 callers", StringComparison.Ordinal)
        .Replace(" 64 B", string.Empty, StringComparison.Ordinal);
}

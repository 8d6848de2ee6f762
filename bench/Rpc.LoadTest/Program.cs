using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Rpc.Benchmarks;
using Rpc.Client;

// Usage:
//   Rpc.LoadTest [--duration 3] [--warmup 1] [--out docs]   runs every scenario against every target
//                [--scenario "server streaming"] [--targets rpc-tcp,grpc-uds]   or some of them ("a|b": either)
//                [--scenario MiB]                          just the large-message scenarios (1 MiB, 16 MiB, 64 MiB)
//   Rpc.LoadTest serve                                     the server process it starts itself
//   Rpc.LoadTest raw-serve unix|shm PATH                   the framework-free echo process of the floor
//   Rpc.LoadTest chart docs/benchmark-results.json docs    redraws the charts of an earlier run
if (args is ["serve", ..])
{
    await BenchmarkServer.RunAsync(Path.GetTempPath());
    return 0;
}

if (args is ["raw-serve", var floorKind, var floorPath])
{
    RawFloor.Serve(floorKind, floorPath);
    return 0;
}

if (args is ["chart", var resultsFile, var chartDirectory])
{
    var run = JsonSerializer.Deserialize<RunResults>(await File.ReadAllTextAsync(resultsFile))!;
    Charts.Write(run.Measurements, run.Machine, chartDirectory);
    return 0;
}

var duration = TimeSpan.FromSeconds(Option("--duration", 3));
var warmup = TimeSpan.FromSeconds(Option("--warmup", 1));
var outDirectory = OptionText("--out", "docs");
var onlyScenario = OptionText("--scenario", "");
var onlyTargets = OptionText("--targets", "");

var serverInfo = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
serverInfo.ArgumentList.Add(typeof(Scenarios).Assembly.Location);
serverInfo.ArgumentList.Add("serve");
using var server = Process.Start(serverInfo)!;
var targets = new List<Target>();
string? statsAddress = null;
while (await server.StandardOutput.ReadLineAsync() is { } line && line != "READY")
{
    if (line.Split(' ') is ["TARGET", var name, var address])
    {
        // The server's allocation counter is read over rpc-unix whichever targets are measured.
        statsAddress = name == "rpc-unix" ? address : statsAddress;
        if (onlyTargets.Length == 0 || onlyTargets.Split(',').Contains(name))
        {
            targets.Add(Target.Create(name, address));
        }
    }
}

var statsChannel = statsAddress is null ? null : RpcChannel.ForAddress(statsAddress);
var stats = statsChannel is null ? null : new BenchStats.BenchStatsClient(statsChannel);
var scenarios = new Scenarios(warmup, duration, server, stats);

// Get every path through the JIT's tiers before anything is measured, so the first target in the
// table is not the one that pays for compilation.
foreach (var target in targets)
{
    await new Scenarios(TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(100), server).UnaryThroughputAsync(target, callers: 8);
    await new Scenarios(TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(100), server).PingPongAsync(target);
}

var measurements = new List<Measurement>();
var runs = new (string Name, Func<Target, Task<Measurement>> Run)[]
{
    ("unary latency", scenarios.UnaryLatencyAsync),
    ("unary latency, blocking stub", scenarios.UnaryBlockingLatencyAsync),
    ("unary 64 callers", t => scenarios.UnaryThroughputAsync(t)),
    ("server streaming", scenarios.ServerStreamingAsync),
    ("client streaming", scenarios.ClientStreamingAsync),
    ("ping-pong", scenarios.PingPongAsync),
    ("unary 1 MiB", scenarios.LargeUnaryAsync),
    ("unary 16 MiB", scenarios.HugeUnaryAsync),
    ("server stream 64 MiB", scenarios.LargeServerStreamAsync),
    ("idle streams", t => scenarios.IdleStreamsAsync(t)),
    ("idle CPU", scenarios.IdleCpuAsync),
};
// "a|b" runs the scenarios that contain a or b, in the usual order: how one scenario's after-effects on the next are found.
foreach (var (name, run) in runs.Where(r => onlyScenario.Split('|').Any(part => r.Name.Contains(part, StringComparison.Ordinal))))
{
    // Printed so that what a scenario adds to a full run is seen, not guessed.
    var scenarioClock = Stopwatch.StartNew();
    foreach (var target in targets)
    {
        var measurement = await run(target);
        measurements.Add(measurement);
        Console.Error.WriteLine($"{measurement.Scenario,-40} {target.Name,-10} {measurement.Value,14:N1} {measurement.Unit}");
    }

    Console.Error.WriteLine($"{name}: {scenarioClock.Elapsed.TotalSeconds:0.0} s for {targets.Count} targets");
}

// The floor: the same 64-byte round trip between two processes with no framework, same run.
if ("unary latency".Contains(onlyScenario, StringComparison.Ordinal))
{
    foreach (var kind in new[] { "unix", "shm" })
    {
        var floor = await RawFloor.MeasureAsync(kind, warmup, duration);
        measurements.Add(floor);
        Console.Error.WriteLine($"{floor.Scenario,-40} {floor.Target,-10} {floor.Value,14:N1} {floor.Unit}");
    }
}

foreach (var target in targets)
{
    target.Dispose();
}

// Before the server goes, so the channel closes its connection rather than finding it gone.
statsChannel?.Dispose();

server.StandardInput.Close();
await server.WaitForExitAsync();

Directory.CreateDirectory(outDirectory);
var machine = Report.Machine();
var markdown = Report.Markdown(measurements, machine, duration, warmup);
await File.WriteAllTextAsync(Path.Combine(outDirectory, "benchmark-results.md"), markdown);
var results = new RunResults(machine, measurements);
await File.WriteAllTextAsync(Path.Combine(outDirectory, "benchmark-results.json"), JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
Charts.Write(measurements, machine, outDirectory);
Console.WriteLine(markdown);
return 0;

double Option(string name, double fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? double.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}

string OptionText(string name, string fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : fallback;
}

/// <summary>What one run measured, and where.</summary>
internal sealed record RunResults(string Machine, IReadOnlyList<Measurement> Measurements);

/// <summary>Absolute numbers and ratios against stock grpc-dotnet over a Unix socket, from the same run.</summary>
internal static class Report
{
    /// <summary>The machine a run is on: cores, processor, system, runtime and when.</summary>
    public static string Machine()
    {
        var cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        return string.Create(CultureInfo.InvariantCulture,
            $"{Environment.ProcessorCount} cores{(cpu is null ? "" : $" ({cpu})")}, {RuntimeInformation.OSDescription}, .NET {Environment.Version}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
    }

    /// <summary>Each transport's p50 as a multiple of the framework-free round trip over the same medium.</summary>
    private static void AppendFloorDistances(StringBuilder text, IReadOnlyList<Measurement> measurements)
    {
        var latency = measurements.Where(m => m.Scenario == "unary 64 B sequential latency (p50)").ToDictionary(m => m.Target);
        var pairs = new[] { ("rpc-unix", "floor-unix"), ("rpc-pipe", "floor-unix"), ("rpc-tcp", "floor-unix"), ("grpc-uds", "floor-unix"), ("rpc-shm", "floor-shm"), ("rpc-unix-inline", "floor-unix"), ("rpc-shm-inline", "floor-shm") };
        var rows = pairs.Where(p => latency.ContainsKey(p.Item1) && latency.ContainsKey(p.Item2)).ToList();
        if (rows.Count == 0)
        {
            return;
        }

        text.AppendLine("### distance to the floor (unary 64 B p50 ÷ raw ping-pong p50, same run; lower is better)");
        text.AppendLine();
        text.AppendLine("| target | floor | × floor |");
        text.AppendLine("|---|---|---|");
        foreach (var (target, floor) in rows)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {target} | {floor} ({latency[floor].Value:0.0} µs) | {latency[target].Value / latency[floor].Value:0.0}× |");
        }

        text.AppendLine();
    }

    public static string Markdown(IReadOnlyList<Measurement> measurements, string machine, TimeSpan duration, TimeSpan warmup)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Run on {machine}; {warmup.TotalSeconds:0.#} s warm-up and {duration.TotalSeconds:0.#} s measured per cell.");
        text.AppendLine("Ratio: how many times better than stock grpc-dotnet over a Unix socket (grpc-uds) in the same run; above 1 is better.");
        text.AppendLine();
        foreach (var scenario in measurements.GroupBy(m => m.Scenario))
        {
            var baseline = scenario.FirstOrDefault(m => m.Target == "grpc-uds");
            text.AppendLine(CultureInfo.InvariantCulture, $"### {scenario.Key}");
            text.AppendLine();
            var detailNames = scenario.SelectMany(m => m.Details?.Keys ?? []).Distinct().ToList();
            text.AppendLine(CultureInfo.InvariantCulture, $"| target | {scenario.First().Unit} | ratio |{string.Concat(detailNames.Select(d => $" {d} |"))}");
            text.AppendLine(CultureInfo.InvariantCulture, $"|---|---|---|{string.Concat(detailNames.Select(_ => "---|"))}");
            foreach (var m in scenario)
            {
                var ratio = baseline is null ? double.NaN : m.HigherIsBetter ? m.Value / baseline.Value : baseline.Value / m.Value;
                var details = string.Concat(detailNames.Select(d => m.Details is { } ds && ds.TryGetValue(d, out var v) ? $" {v:0.0} |" : " |"));
                text.AppendLine(CultureInfo.InvariantCulture, $"| {m.Target} | {m.Value:#,0.0} | {ratio:0.00}× |{details}");
            }

            text.AppendLine();
        }

        AppendFloorDistances(text, measurements);
        return text.ToString();
    }
}

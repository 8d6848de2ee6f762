using System.Globalization;
using Spectre.Console;

namespace DistributedCalculator.Coordinator;

/// <summary>The table after a run: worker, transport, share of the work, time, calls, and what became of it.</summary>
public static class Report
{
    /// <summary>Prints one row per worker.</summary>
    public static void Table(IReadOnlyList<WorkerHandle> workers, long limit)
    {
        var table = new Table().AddColumns("worker", "pid", "transport", "segments", "share", "busy", "calls", "failed", "state");
        foreach (var worker in workers)
        {
            table.AddRow(
                Markup.Escape(worker.Name),
                worker.Pid,
                Markup.Escape(worker.Transport),
                worker.Segments.ToString(CultureInfo.InvariantCulture),
                (100.0 * worker.Numbers / limit).ToString("0.0", CultureInfo.InvariantCulture) + " %",
                worker.Busy.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) + " s",
                worker.Calls.ToString(CultureInfo.InvariantCulture),
                worker.Failures.ToString(CultureInfo.InvariantCulture),
                worker.DroppedBecause is { } why ? "[red]dropped[/]: " + Markup.Escape(why) : "[green]ok[/]");
        }

        AnsiConsole.Write(table);
    }
}

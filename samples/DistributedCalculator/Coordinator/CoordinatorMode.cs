using System.Diagnostics;
using System.Globalization;
using DistributedCalculator.Primes;
using Spectre.Console;

namespace DistributedCalculator.Coordinator;

/// <summary>
/// The coordinator: starts or reaches the workers, runs the <see cref="Scheduler"/> with a live
/// progress display, prints a table of what each worker did, and checks the answer against a
/// single-process computation. Exit code 0 only when they agree.
/// </summary>
public static class CoordinatorMode
{
    /// <summary>Runs one distributed computation; returns the process's exit code.</summary>
    public static async Task<int> RunAsync(CoordinatorOptions options)
    {
        using var run = new CancellationTokenSource(options.Timeout);
        if (Console.IsOutputRedirected)
        {
            // A log or a test reads the table: do not wrap it at the 80 columns Spectre assumes without a terminal.
            AnsiConsole.Profile.Width = 200;
        }

        var workers = new List<WorkerHandle>();
        try
        {
            for (var i = 0; i < options.Pipes; i++)
            {
                workers.Add(WorkerLauncher.StartPipeChild(i + 1));
            }

            foreach (var address in options.Spawn)
            {
                workers.Add(await WorkerLauncher.SpawnAsync(address, run.Token));
            }

            workers.AddRange(options.Workers.Select(WorkerLauncher.Connect));
            AnsiConsole.MarkupLine($"Counting the primes below [bold]{options.Limit:N0}[/] in {options.Segments} segments on {workers.Count} workers.");

            await Task.WhenAll(workers.Select(w => w.IntroduceAsync(options.ConnectDeadline, run.Token)));
            var scheduler = new Scheduler(options, workers);
            var clock = Stopwatch.StartNew();
            PrimeTally distributed;
            try
            {
                distributed = await RunWithProgressAsync(scheduler, workers, run.Token);
            }
            catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or Grpc.Core.RpcException)
            {
                Report.Table(workers, options.Limit);
                var why = run.IsCancellationRequested ? $"the run took longer than --timeout {options.Timeout}" : e.Message;
                AnsiConsole.MarkupLineInterpolated($"[red]NOT VERIFIED[/]: no result, {why}");
                return 1;
            }

            var distributedTime = clock.Elapsed;
            Report.Table(workers, options.Limit);

            clock.Restart();
            var reference = await Task.Run(() => ReferenceSieve.Below(options.Limit), run.Token);
            var referenceTime = clock.Elapsed;
            var known = ReferenceSieve.KnownCounts.TryGetValue(options.Limit, out var knownCount) ? knownCount : (long?)null;
            AnsiConsole.MarkupLine(string.Create(CultureInfo.InvariantCulture,
                $"Distributed: {distributed.Count:N0} primes below {options.Limit:N0}, sum {distributed.Sum:N0} ({distributedTime.TotalSeconds:0.00} s)."));
            AnsiConsole.MarkupLine(string.Create(CultureInfo.InvariantCulture,
                $"One process:  {reference.Count:N0} primes, sum {reference.Sum:N0} ({referenceTime.TotalSeconds:0.00} s)."));
            if (distributed == reference && (known is null || known == reference.Count))
            {
                AnsiConsole.MarkupLine("[green]VERIFIED[/]: the distributed result equals the single-process one" + (known is null ? "." : ", and the known value of pi(N)."));
                return 0;
            }

            AnsiConsole.MarkupLine("[red]NOT VERIFIED[/]: the results differ" + (known is null ? "." : $" (pi(N) is {known:N0})."));
            return 1;
        }
        finally
        {
            foreach (var worker in workers)
            {
                await worker.DisposeAsync();
            }
        }
    }

    private static async Task<PrimeTally> RunWithProgressAsync(Scheduler scheduler, List<WorkerHandle> workers, CancellationToken cancellationToken)
    {
        var running = scheduler.RunAsync(cancellationToken);
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            // Redirected output (a log, a test) gets a line a second instead of redrawn bars.
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
            while (!running.IsCompleted && await timer.WaitForNextTickAsync(CancellationToken.None))
            {
                var perWorker = string.Join(", ", workers.Select(w => w.Name + " " + w.Segments.ToString(CultureInfo.InvariantCulture) + (w.DroppedBecause is null ? "" : " (dropped)")));
                AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture, $"progress: {scheduler.Done}/{scheduler.SegmentCount} segments; {perWorker}"));
            }

            return await running;
        }

        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async context =>
            {
                var total = context.AddTask("[bold]total[/]", maxValue: scheduler.SegmentCount);
                // Each worker's bar is its share of all segments.
                var bars = workers.Select(w => context.AddTask(Markup.Escape(w.Name), maxValue: scheduler.SegmentCount)).ToArray();
                using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
                do
                {
                    total.Value = scheduler.Done;
                    for (var i = 0; i < workers.Count; i++)
                    {
                        bars[i].Value = workers[i].Segments;
                        bars[i].Description = Markup.Escape(workers[i].Name) + (workers[i].DroppedBecause is null ? "" : " [red](dropped)[/]");
                    }
                }
                while (!running.IsCompleted && await timer.WaitForNextTickAsync(CancellationToken.None));
                total.Value = scheduler.Done;
                foreach (var bar in bars)
                {
                    bar.StopTask();
                }

                total.StopTask();
            });
        return await running;
    }
}

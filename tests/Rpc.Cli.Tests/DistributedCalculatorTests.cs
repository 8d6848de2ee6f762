using Rpc.Cli.Tests.Infrastructure;
using Xunit;

namespace Rpc.Cli.Tests;

/// <summary>
/// The distributed calculator sample run as a user runs it: a coordinator process and worker
/// processes over several transports, the answer checked by the coordinator, the exit code saying so.
/// Faults are made deterministic by the worker's --hold option: it announces the segment it holds
/// (HOLDING id) and never answers it, so the test knows a segment is in its hands.
/// </summary>
public sealed class DistributedCalculatorTests
{
    /// <summary>Generous: only proves "doesn't hang" on a loaded 2-core machine.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task DemoScript_FourWorkersOverMixedTransports_VerifiedAndExitZero()
    {
        await using var demo = ChildProcess.Start("bash", ["samples/run-distributed-demo.sh", "--limit", "10000000", "--segments", "20"],
            new Dictionary<string, string> { ["RPC_DEMO_NO_BUILD"] = "1", ["RPC_DEMO_CONFIGURATION"] = Paths.BuildConfiguration });

        var (exitCode, output) = await demo.WaitForExitAsync(Bound);

        Assert.True(exitCode == 0, output);
        Assert.Contains("VERIFIED: the distributed result equals the single-process one, and the known value of pi(N).", output, StringComparison.Ordinal);
        Assert.Contains("Distributed: 664,579 primes below 10,000,000", output, StringComparison.Ordinal);
        foreach (var transport in new[] { "pipes", "shm", "unix", "tcp" })
        {
            Assert.Matches($@"│ {transport} +│ \d+ +│ .*│ ok", output);
        }
    }

    [Fact]
    public async Task Coordinator_WorkerKilledWhileHoldingSegment_SegmentResentAndResultVerified()
    {
        var socket = Paths.NewSocketPath();
        try
        {
            await using var worker = StartCalculator("worker", "unix://" + socket, "--hold", "first");
            await worker.WaitForLineAsync("LISTENING ", Bound);
            // A deadline far beyond the test's bound: only the kill can take the segment back.
            await using var coordinator = StartCalculator("--limit", "10000000", "--segments", "20", "--pipes", "2", "--worker", "unix://" + socket, "--segment-deadline", "600s");

            await worker.WaitForLineAsync("HOLDING ", Bound);
            worker.Kill();
            var (exitCode, output) = await coordinator.WaitForExitAsync(Bound);

            Assert.True(exitCode == 0, output);
            Assert.Contains("VERIFIED", output, StringComparison.Ordinal);
            Assert.DoesNotContain("NOT VERIFIED", output, StringComparison.Ordinal);
            Assert.Matches(@"│ unix +│ 0 +│ 0\.0 % .*│ 1 +│ dropped: Unavailable", output);
        }
        finally
        {
            File.Delete(socket);
            File.Delete(socket + ".lock");
        }
    }

    [Fact]
    public async Task Coordinator_WorkerNeverAnswers_SegmentDeadlineReassignsAndResultVerified()
    {
        var socket = Paths.NewSocketPath();
        try
        {
            await using var worker = StartCalculator("worker", "unix://" + socket, "--hold", "all", "--exit-with-stdin");
            await worker.WaitForLineAsync("LISTENING ", Bound);
            await using var coordinator = StartCalculator("--limit", "2000000", "--segments", "10", "--pipes", "1", "--worker", "unix://" + socket, "--segment-deadline", "5s", "--max-timeouts", "1");

            var (exitCode, output) = await coordinator.WaitForExitAsync(Bound);

            Assert.True(exitCode == 0, output);
            Assert.Contains("VERIFIED", output, StringComparison.Ordinal);
            Assert.DoesNotContain("NOT VERIFIED", output, StringComparison.Ordinal);
            // One miss drops it: with two, the pipe worker could finish every other segment before
            // the held worker missed a second deadline, and the run ended with it never dropped.
            Assert.Contains("dropped: too slow: missed 1 deadline(s) of 5 s in a row", output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(socket);
            File.Delete(socket + ".lock");
        }
    }

    [Fact]
    public async Task Coordinator_OnlyWorkerNeverAnswers_NotVerifiedAndExitNonZero()
    {
        var socket = Paths.NewSocketPath();
        try
        {
            await using var worker = StartCalculator("worker", "unix://" + socket, "--hold", "all", "--exit-with-stdin");
            await worker.WaitForLineAsync("LISTENING ", Bound);
            await using var coordinator = StartCalculator("--limit", "1000000", "--segments", "4", "--worker", "unix://" + socket, "--segment-deadline", "2s", "--max-timeouts", "1");

            var (exitCode, output) = await coordinator.WaitForExitAsync(Bound);

            Assert.Equal(1, exitCode);
            Assert.Contains("NOT VERIFIED: no result, Every worker was dropped with 4 of 4 segments unanswered.", output, StringComparison.Ordinal);
            Assert.Contains("dropped: too slow: missed 1 deadline(s) of 2 s in a row", output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(socket);
            File.Delete(socket + ".lock");
        }
    }

    private static ChildProcess StartCalculator(params string[] args) => ChildProcess.Start("dotnet", [Paths.DistributedCalculatorDll, .. args]);
}

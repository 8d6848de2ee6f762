using System.Diagnostics;
using Rpc.Client;

namespace DistributedCalculator.Coordinator;

/// <summary>Starts child workers (this same program in worker mode) and opens channels to every worker.</summary>
public static class WorkerLauncher
{
    /// <summary>A child serving this process over anonymous pipes.</summary>
    public static WorkerHandle StartPipeChild(int index)
    {
        var start = WorkerStartInfo("--parent-pipes");
        // Its stdout (LISTENING, HOLDING) is for scripts and tests of a standalone worker; here it is only drained.
        start.RedirectStandardOutput = true;
        var channel = RpcChannel.ForChildProcess(start);
        var child = channel.ChildProcess!;
        return new WorkerHandle($"child {index}", "pipes", channel, child, DrainAsync(child.StandardOutput));
    }

    /// <summary>A child listening on <paramref name="address"/>; returns once it said where it listens.</summary>
    public static async Task<WorkerHandle> SpawnAsync(string address, CancellationToken cancellationToken)
    {
        var start = WorkerStartInfo(address, "--exit-with-stdin");
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        var child = Process.Start(start) ?? throw new InvalidOperationException("Could not start a worker process.");
        try
        {
            while (await child.StandardOutput.ReadLineAsync(cancellationToken) is { } line)
            {
                if (line.StartsWith("LISTENING ", StringComparison.Ordinal))
                {
                    // tcp://127.0.0.1:0 became a real port: connect where the child says it listens.
                    var bound = line["LISTENING ".Length..];
                    var channel = RpcChannel.ForAddress(bound);
                    return new WorkerHandle(bound, Scheme(bound), channel, child, DrainAsync(child.StandardOutput));
                }
            }

            throw new InvalidOperationException($"The worker for {address} exited before listening (exit code {child.ExitCode}).");
        }
        catch
        {
            child.Kill(entireProcessTree: true);
            child.Dispose();
            throw;
        }
    }

    /// <summary>A worker someone else runs.</summary>
    public static WorkerHandle Connect(string address) => new(address, Scheme(address), RpcChannel.ForAddress(address), null, null);

    private static string Scheme(string address) => address[..Math.Max(0, address.IndexOf(':', StringComparison.Ordinal))];

    /// <summary>This program again, in worker mode: <c>dotnet DistributedCalculator.dll worker ...</c> or the apphost.</summary>
    private static ProcessStartInfo WorkerStartInfo(params string[] workerArgs)
    {
        var host = Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo(host) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            start.ArgumentList.Add(typeof(WorkerLauncher).Assembly.Location);
        }

        start.ArgumentList.Add("worker");
        foreach (var arg in workerArgs)
        {
            start.ArgumentList.Add(arg);
        }

        return start;
    }

    /// <summary>Reads a child's stdout line by line until it ends, keeping none of it, so the child never blocks writing.</summary>
    private static Task DrainAsync(StreamReader output) => Task.Run(async () =>
    {
        while (await output.ReadLineAsync() is not null)
        {
        }
    });
}

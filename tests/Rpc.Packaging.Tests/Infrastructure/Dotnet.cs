using System.Diagnostics;
using System.Text;

namespace Rpc.Packaging.Tests.Infrastructure;

/// <summary>What a finished <c>dotnet</c> command printed, stdout and stderr interleaved as they came.</summary>
public sealed record DotnetResult(string CommandLine, int ExitCode, string Output)
{
    /// <summary>Throws, with everything the command printed, unless it exited with 0.</summary>
    public DotnetResult EnsureSuccess() =>
        ExitCode == 0 ? this : throw new InvalidOperationException($"'{CommandLine}' exited with {ExitCode}:{Environment.NewLine}{Output}");
}

/// <summary>
/// Runs the <c>dotnet</c> CLI as a child process with a deadline: past it the process tree is killed
/// and the test fails with what it printed, so a stuck restore or build fails the test instead of
/// hanging the run.
/// </summary>
public static class Dotnet
{
    public static async Task<DotnetResult> RunAsync(string workingDirectory, TimeSpan timeout, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // `dotnet test` sets MSBuild variables for its own build (SDK paths, node settings); a build
        // started from the test must find its SDK as a user's would.
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            info.Environment.Remove(name);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";

        var commandLine = "dotnet " + string.Join(' ', args);
        var output = new StringBuilder();
        void Append(string? line)
        {
            if (line is not null)
            {
                // The two streams' callbacks run on thread-pool threads at once; the builder is theirs under this lock.
                lock (output)
                {
                    output.AppendLine(line);
                }
            }
        }

        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start '{commandLine}'.");
        }

        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            // Waits for the exit and for both streams' end, so the output is complete.
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            string soFar;
            lock (output)
            {
                soFar = output.ToString();
            }

            throw new TimeoutException($"'{commandLine}' did not finish within {timeout}:{Environment.NewLine}{soFar}");
        }

        lock (output)
        {
            return new DotnetResult(commandLine, process.ExitCode, output.ToString());
        }
    }
}

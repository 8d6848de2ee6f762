using System.Diagnostics;

namespace Rpc.Cli.Tests.Infrastructure;

/// <summary>What one run of the <c>rpc</c> tool left behind.</summary>
public sealed record ToolResult(int ExitCode, string Out, string Error);

/// <summary>Runs the built tool as its own process (<c>dotnet rpc.dll ...</c>), as a user would.</summary>
public static class ToolProcess
{
    /// <summary>Generous: only proves "doesn't hang" on a loaded 2-core machine.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static async Task<ToolResult> RunAsync(string? stdin, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Paths.ToolDll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        try
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (stdin is not null)
            {
                await process.StandardInput.WriteAsync(stdin).WaitAsync(Timeout);
            }

            process.StandardInput.Close();
            await process.WaitForExitAsync().WaitAsync(Timeout);
            return new ToolResult(process.ExitCode, await output.WaitAsync(Timeout), await error.WaitAsync(Timeout));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }
}

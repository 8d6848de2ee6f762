using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Threading.Channels;

namespace Rpc.Tests.Http;

/// <summary>
/// Runs tests/interop/grpcjs-client/client.js (Node's @grpc/grpc-js) as a separate process. A
/// machine without node, or without the project's node_modules, fails the test with what to run;
/// it never skips.
/// </summary>
public sealed class ServerGrpcJsClient : IAsyncDisposable
{
    /// <summary>How long one case may run: generous, only to turn a hang into a failure.</summary>
    public static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _transcript = new();

    private ServerGrpcJsClient(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data is null ? null : "stderr: " + e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The project directory, where <c>npm ci</c> installs the pinned packages.</summary>
    public static string ProjectDirectory { get; } = Path.Combine(FindRepositoryRoot(), "tests", "interop", "grpcjs-client");

    public string Transcript
    {
        get
        {
            lock (_transcript)
            {
                return _transcript.ToString();
            }
        }
    }

    /// <summary>Starts <c>node client.js <paramref name="arguments"/></c>.</summary>
    /// <exception cref="InvalidOperationException">node or the installed packages are missing (the message says what to run).</exception>
    public static ServerGrpcJsClient Start(params string[] arguments)
    {
        if (!File.Exists(Path.Combine(ProjectDirectory, "node_modules", "@grpc", "grpc-js", "package.json")))
        {
            throw new InvalidOperationException(
                $"@grpc/grpc-js is not installed: run `npm ci --prefix {ProjectDirectory}` (or `npm ci` in that directory) before the tests.");
        }

        var info = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = ProjectDirectory,
        };
        info.ArgumentList.Add("client.js");
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        try
        {
            return new ServerGrpcJsClient(Process.Start(info) ?? throw new InvalidOperationException("node did not start."));
        }
        catch (Win32Exception ex)
        {
            throw new InvalidOperationException(
                $"node is not on PATH ({ex.Message}): install Node.js, then run `npm ci` in {ProjectDirectory}.", ex);
        }
    }

    /// <summary>Runs one case of client.js against <paramref name="target"/>; fails with the client's own words.</summary>
    public static async Task RunCaseAsync(string target, string name)
    {
        await using var client = Start(target, name);
        var exited = await client.WaitForExitAsync(CaseTimeout);
        var transcript = client.Transcript;
        if (!exited)
        {
            throw new TimeoutException($"grpc-js case '{name}' against {target} did not finish within {CaseTimeout.TotalSeconds} s. Output:{Environment.NewLine}{transcript}");
        }

        if (client._process.ExitCode != 0 || !transcript.Contains("PASS " + name, StringComparison.Ordinal))
        {
            throw new Xunit.Sdk.XunitException($"grpc-js case '{name}' against {target} failed (exit {client._process.ExitCode}):{Environment.NewLine}{transcript}");
        }
    }

    /// <summary>Waits, at most <see cref="CaseTimeout"/>, for a line starting with <paramref name="prefix"/>.</summary>
    public async Task WaitForLineAsync(string prefix)
    {
        using var timeout = new CancellationTokenSource(CaseTimeout);
        try
        {
            await foreach (var line in _lines.Reader.ReadAllAsync(timeout.Token))
            {
                if (line.StartsWith(prefix, StringComparison.Ordinal))
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"node printed no '{prefix}' within {CaseTimeout.TotalSeconds} s. Output:{Environment.NewLine}{Transcript}");
        }

        throw new InvalidOperationException($"node exited without printing '{prefix}'. Output:{Environment.NewLine}{Transcript}");
    }

    /// <summary>Kills the process (SIGKILL: it gets no chance to close its calls) and waits for it to be gone.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await WaitForExitAsync(CaseTimeout);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }

    private async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            _lines.Writer.TryComplete();
            return;
        }

        lock (_transcript)
        {
            _transcript.AppendLine(line);
        }

        _lines.Writer.TryWrite(line);
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Rpc.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Rpc.sln not found above the test directory.");
    }
}

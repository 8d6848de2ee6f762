using System.Diagnostics;
using System.Text;
using System.Threading.Channels;

namespace Rpc.Cli.Tests.Infrastructure;

/// <summary>
/// A process a test starts and reads line by line while it runs (to act on what it announces), and
/// whose whole output it gets at the end. Killed with its tree on dispose if still running.
/// Its two reader tasks own the output; the test reads lines through the channel.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly Task _readers;

    private ChildProcess(Process process)
    {
        _process = process;
        _readers = Task.WhenAll(ReadAsync(process.StandardOutput), ReadAsync(process.StandardError))
            .ContinueWith(_ => _lines.Writer.TryComplete(), TaskScheduler.Default);
    }

    public int Id => _process.Id;

    /// <summary>Starts <c>fileName args</c> with stdout and stderr read and stdin left open.</summary>
    public static ChildProcess Start(string fileName, IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Paths.Root,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        return new ChildProcess(Process.Start(start)!);
    }

    /// <summary>The first line (of stdout or stderr) starting with <paramref name="prefix"/>; fails if the process ends first.</summary>
    public async Task<string> WaitForLineAsync(string prefix, TimeSpan timeout)
    {
        using var bound = new CancellationTokenSource(timeout);
        await foreach (var line in _lines.Reader.ReadAllAsync(bound.Token))
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                return line;
            }
        }

        throw new InvalidOperationException($"The process ended without a line starting '{prefix}'. Output:\n{Output}");
    }

    /// <summary>Waits for the process to exit; its exit code and everything it wrote.</summary>
    public async Task<(int ExitCode, string Output)> WaitForExitAsync(TimeSpan timeout)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout);
        await _readers.WaitAsync(timeout);
        return (_process.ExitCode, Output);
    }

    public void Kill() => _process.Kill(entireProcessTree: true);

    private string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _process.Dispose();
    }

    private async Task ReadAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }

            _lines.Writer.TryWrite(line);
        }
    }
}

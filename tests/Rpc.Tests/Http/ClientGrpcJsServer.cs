using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using Rpc.Tests.Infrastructure;

namespace Rpc.Tests.Http;

/// <summary>
/// The stock @grpc/grpc-js server in tests/interop/grpcjs-server, run with node for one test
/// class. It prints its port; closing its stdin ends it, and a kill follows if it lingers.
/// A missing node or node_modules fails the test with the command that fixes it, never skips it.
/// </summary>
internal sealed class ClientGrpcJsServer : IAsyncDisposable
{
    private static readonly TimeSpan ExitGrace = TimeSpan.FromSeconds(5);

    private readonly Process _process;
    private readonly StringBuilder _stderr;

    private ClientGrpcJsServer(Process process, StringBuilder stderr, int port)
    {
        _process = process;
        _stderr = stderr;
        Address = $"http://127.0.0.1:{port}";
    }

    public string Address { get; }

    public static async Task<ClientGrpcJsServer> StartAsync()
    {
        var directory = Path.Combine(FindRepositoryRoot(), "tests", "interop", "grpcjs-server");
        var fix = $"run `npm ci` in {directory} (node and npm are needed; .ci/run does this)";
        if (!Directory.Exists(Path.Combine(directory, "node_modules", "@grpc", "grpc-js")))
        {
            throw new InvalidOperationException($"The grpc-js interop server's packages are not installed: {fix}.");
        }

        var startInfo = new ProcessStartInfo("node", "server.js")
        {
            WorkingDirectory = directory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(startInfo) ?? throw new InvalidOperationException($"node did not start: {fix}.");
        }
        catch (Win32Exception ex)
        {
            throw new InvalidOperationException($"node is not on PATH ({ex.Message}): install node, then {fix}.", ex);
        }

        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        try
        {
            using var timeout = new CancellationTokenSource(Infrastructure.TaskExtensions.DefaultTimeoutSpan);
            while (true)
            {
                var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
                if (line is null)
                {
                    throw new InvalidOperationException($"The grpc-js server exited before listening: {Snapshot(stderr)} ({fix}).");
                }

                if (line.StartsWith("PORT ", StringComparison.Ordinal))
                {
                    return new ClientGrpcJsServer(process, stderr, int.Parse(line[5..], System.Globalization.CultureInfo.InvariantCulture));
                }
            }
        }
        catch
        {
            await EndAsync(process);
            process.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await EndAsync(_process);
        _process.Dispose();
    }

    /// <summary>What the server wrote to stderr, for a failing test's message.</summary>
    public string Errors => Snapshot(_stderr);

    private static async Task EndAsync(Process process)
    {
        try
        {
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // Already gone.
        }

        using var grace = new CancellationTokenSource(ExitGrace);
        try
        {
            await process.WaitForExitAsync(grace.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().DefaultTimeout();
        }
    }

    private static string Snapshot(StringBuilder text)
    {
        lock (text)
        {
            return text.ToString();
        }
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

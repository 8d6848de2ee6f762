using System.Diagnostics;
using Xunit;

namespace Rpc.Cli.Tests.Infrastructure;

/// <summary>
/// One Rpc.TestServer process (reflection and health on) listening on unix, shm and tcp, shared by
/// a test class. Closing its stdin stops it; it is killed if it has not stopped in time.
/// </summary>
public sealed class TestServerFixture : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly string _socket = Paths.NewSocketPath();
    private Process? _process;

    /// <summary>Bound addresses by scheme: unix, shm, tcp.</summary>
    public Dictionary<string, string> Addresses { get; } = [];

    public async Task InitializeAsync()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(Paths.TestServerDll);
        start.ArgumentList.Add("unix://" + _socket);
        start.ArgumentList.Add($"shm://rpcc{Guid.NewGuid():N}"[..18]);
        start.ArgumentList.Add("tcp://127.0.0.1:0");
        _process = Process.Start(start)!;
        while (await _process.StandardOutput.ReadLineAsync().WaitAsync(Bound) is { } line)
        {
            if (line.StartsWith("READY ", StringComparison.Ordinal))
            {
                foreach (var address in line["READY ".Length..].Split(' '))
                {
                    Addresses[address[..address.IndexOf(':', StringComparison.Ordinal)]] = address;
                }

                return;
            }
        }

        throw new InvalidOperationException("The test server ended before READY.");
    }

    public async Task DisposeAsync()
    {
        if (_process is null)
        {
            return;
        }

        _process.StandardInput.Close();
        try
        {
            await _process.WaitForExitAsync().WaitAsync(Bound);
        }
        catch (TimeoutException)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
        File.Delete(_socket);
    }
}

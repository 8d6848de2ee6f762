namespace Rpc.Tests.Infrastructure;

/// <summary>The conformance test server, running as its own process.</summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private ServerProcess(ChildProcess process, IReadOnlyList<string> addresses)
    {
        Process = process;
        Addresses = addresses;
    }

    public ChildProcess Process { get; }

    public IReadOnlyList<string> Addresses { get; }

    public string Address => Addresses[0];

    public static async Task<ServerProcess> StartAsync(params string[] addresses)
    {
        var process = ChildProcess.Start(TestPaths.TestServerDll, addresses);
        try
        {
            var ready = await process.WaitForLineAsync("READY ");
            return new ServerProcess(process, ready["READY ".Length..].Split(' '));
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}

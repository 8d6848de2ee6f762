using Rpc.Cli.Tests.Infrastructure;
using Xunit;

namespace Rpc.Cli.Tests;

/// <summary>
/// http:// addresses: standard gRPC over HTTP/2. The server is a distributed-calculator worker
/// process (an RpcServer listening on http://, with reflection); the tool and the coordinator reach it there.
/// </summary>
public sealed class HttpAddressTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task ListAndCall_HttpAddress_ServicesListedAndResponseJson()
    {
        await using var worker = ChildProcess.Start("dotnet", [Paths.DistributedCalculatorDll, "worker", "http://127.0.0.1:0"]);
        var address = (await worker.WaitForLineAsync("LISTENING ", Bound))["LISTENING ".Length..];

        var list = await ToolProcess.RunAsync(null, "list", address);
        var call = await ToolProcess.RunAsync(null, "call", address, "distcalc.PrimeWorker/CountPrimes", """{ "end": 1000 }""");

        Assert.Equal(0, list.ExitCode);
        Assert.Contains("distcalc.PrimeWorker", list.Out.Split('\n'));
        Assert.Equal(0, call.ExitCode);
        Assert.StartsWith("""{ "count": "168", "sum": "76127",""", call.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Coordinator_WorkerOverHttp_ResultVerified()
    {
        await using var coordinator = ChildProcess.Start("dotnet", [Paths.DistributedCalculatorDll, "--limit", "1000000", "--segments", "8", "--pipes", "1", "--spawn", "http://127.0.0.1:0"]);

        var (exitCode, output) = await coordinator.WaitForExitAsync(Bound);

        Assert.True(exitCode == 0, output);
        Assert.Contains("VERIFIED", output, StringComparison.Ordinal);
        Assert.Matches(@"│ http://127\.0\.0\.1:\d+ +│ \d+ +│ http +│ .*│ ok", output);
    }
}

using Rpc.Cli.Tests.Infrastructure;
using Xunit;

namespace Rpc.Cli.Tests;

/// <summary>The built <c>rpc</c> tool, run as a process against a real Rpc.TestServer process.</summary>
public sealed class ToolProcessTests(TestServerFixture server) : IClassFixture<TestServerFixture>
{
    private const string Unary = "rpc.testing.TestService/UnaryCall";

    [Theory]
    [InlineData("unix")]
    [InlineData("shm")]
    [InlineData("tcp")]
    public async Task ListAndCall_OverTransport_ListsServicesAndPrintsResponseJson(string scheme)
    {
        var address = server.Addresses[scheme];

        var list = await ToolProcess.RunAsync(null, "list", address);
        Assert.Equal(0, list.ExitCode);
        Assert.Contains("rpc.testing.TestService", list.Out.Split('\n'));

        var call = await ToolProcess.RunAsync(null, "call", address, Unary, """{ "responseSize": 2 }""");
        Assert.Equal(0, call.ExitCode);
        Assert.StartsWith("""{ "payload": { "body": "AAA=" }""", call.Out, StringComparison.Ordinal);
        Assert.Contains("Status: OK (0)", call.Error, StringComparison.Ordinal);
        Assert.Contains("x-intercepted: yes", call.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_Service_PrintsMethodsWithKinds()
    {
        var result = await ToolProcess.RunAsync(null, "list", server.Addresses["unix"], "rpc.testing.TestService");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("rpc.testing.TestService/StreamingInputCall\tclient streaming\t", result.Out, StringComparison.Ordinal);
        Assert.Contains("rpc.testing.TestService/FullDuplexCall\tbidi streaming\t", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Describe_Message_PrintsProtoText()
    {
        var result = await ToolProcess.RunAsync(null, "describe", server.Addresses["unix"], "rpc.testing.SimpleRequest");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("message rpc.testing.SimpleRequest {", result.Out, StringComparison.Ordinal);
        Assert.Contains("  .rpc.testing.Payload payload = 2;", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Call_ErrorStatus_ExitCodeIsStatusCodeWithStatusAndTrailersOnStderr()
    {
        var result = await ToolProcess.RunAsync(null, "call", server.Addresses["unix"], Unary, """{ "responseStatus": { "code": 7, "message": "not you" } }""");
        Assert.Equal(7, result.ExitCode);
        Assert.Equal("", result.Out);
        Assert.Contains("Status: PermissionDenied (7): not you", result.Error, StringComparison.Ordinal);
        Assert.Contains("x-status-trailer: present", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Call_HeaderOption_SentAsMetadata()
    {
        var result = await ToolProcess.RunAsync(null, "call", server.Addresses["unix"], Unary, """{ "echoMetadata": true }""", "-H", "x-echo-probe-trailer: hello");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("x-echo-probe-trailer: hello", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Call_SeveralObjectsOnStdin_SentAsClientStream()
    {
        var result = await ToolProcess.RunAsync("""{"payload":{"body":"AAA="}} {"payload":{"body":"AAAA"}}""", "call", server.Addresses["shm"], "rpc.testing.TestService/StreamingInputCall");
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("""{ "aggregatedPayloadSize": 5 }""", result.Out.Trim());
    }

    [Fact]
    public async Task Call_DataFromFile_ServerStreamOneJsonPerLine()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, """{ "responseParameters": [ { "size": 1 }, { "size": 2 }, { "size": 3 } ] }""");
            var result = await ToolProcess.RunAsync(null, "call", server.Addresses["tcp"], "rpc.testing.TestService/StreamingOutputCall", "-d", "@" + file);
            Assert.Equal(0, result.ExitCode);
            Assert.Equal(["""{ "payload": { "body": "AA==" } }""", """{ "payload": { "body": "AAA=" } }""", """{ "payload": { "body": "AAAA" } }"""],
                result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Call_DeadlineShorterThanHandler_ExitsDeadlineExceeded()
    {
        var result = await ToolProcess.RunAsync(null, "call", server.Addresses["unix"], "rpc.testing.TestService/Sleep", """{ "key": "cli", "millis": 20000 }""", "--deadline", "300ms");
        Assert.Equal(4, result.ExitCode);
        Assert.Contains("DeadlineExceeded", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Call_UnknownMethod_ListsTheServicesMethods()
    {
        var result = await ToolProcess.RunAsync(null, "call", server.Addresses["unix"], "rpc.testing.TestService/Nope", "{}");
        Assert.Equal(5, result.ExitCode);
        Assert.Contains("has no method 'Nope'; it has: EmptyCall, UnaryCall,", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Call_UnknownService_ListsTheServersServices()
    {
        var result = await ToolProcess.RunAsync(null, "call", server.Addresses["unix"], "rpc.testing.Missing/Call", "{}");
        Assert.Equal(5, result.ExitCode);
        Assert.Contains("The server has: grpc.health.v1.Health, grpc.reflection.v1alpha.ServerReflection, rpc.testing.TestService", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Call_BadJson_NamesTheField()
    {
        var result = await ToolProcess.RunAsync(null, "call", server.Addresses["unix"], Unary, """{ "payload": { "body": 5 } }""");
        Assert.Equal(3, result.ExitCode);
        Assert.Contains("'SimpleRequest.payload.body'", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", 0, "SERVING")]
    [InlineData("rpc.testing.TestService", 0, "SERVING")]
    [InlineData("rpc.testing.Draining", 1, "NOT_SERVING")]
    public async Task Health_Service_ExitZeroOnlyWhenServing(string service, int exitCode, string printed)
    {
        var result = service.Length == 0
            ? await ToolProcess.RunAsync(null, "health", server.Addresses["tcp"])
            : await ToolProcess.RunAsync(null, "health", server.Addresses["tcp"], service);
        Assert.Equal(exitCode, result.ExitCode);
        Assert.Equal(printed, result.Out.Trim());
    }

    [Fact]
    public async Task Health_UnknownService_ExitsNotFound()
    {
        var result = await ToolProcess.RunAsync(null, "health", server.Addresses["unix"], "no.Such");
        Assert.Equal(5, result.ExitCode);
    }

    [Fact]
    public async Task Bench_FixedCalls_ReportsEveryCallAndLatencies()
    {
        var result = await ToolProcess.RunAsync(null, "bench", server.Addresses["unix"], Unary, """{ "responseSize": 4 }""", "-c", "3", "-n", "200");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("calls/s", result.Error, StringComparison.Ordinal);
        Assert.Contains("p99 ms", result.Error, StringComparison.Ordinal);
        Assert.Contains("latency histogram", result.Error, StringComparison.Ordinal);
        Assert.Matches(@"\u2502 200\s+\u2502 0\s+\u2502", result.Error);
    }

    [Fact]
    public async Task Bench_FailingCalls_ExitCodeIsTheirStatus()
    {
        var result = await ToolProcess.RunAsync(null, "bench", server.Addresses["unix"], Unary, """{ "responseStatus": { "code": 9 } }""", "-c", "2", "-n", "20");
        Assert.Equal(9, result.ExitCode);
        Assert.Matches(@"\u2502 20\s+\u2502 20\s+\u2502", result.Error);
    }
}

using Grpc.Core;
using Rpc.Cli.Tests.Echo;
using Rpc.Cli.Tests.Infrastructure;
using Rpc.Server;
using Xunit;

namespace Rpc.Cli.Tests;

/// <summary>
/// <c>--proto</c>: list, describe and call a server that has no reflection, from its .proto files
/// (imports found with -I, well-known types without). The tool runs as a process; the server is real.
/// </summary>
public sealed class ProtoOptionTests : IAsyncLifetime
{
    private static readonly string ProtoDirectory = Path.Combine(Paths.Root, "tests", "Rpc.Cli.Tests", "Protos");
    private static readonly string EchoProto = Path.Combine(ProtoDirectory, "echo", "echo.proto");
    private static readonly string Imports = Path.Combine(ProtoDirectory, "imports");
    private readonly string _socket = Paths.NewSocketPath();
    private readonly RpcServer _server = new(new RpcServerOptions());

    private string Address => "unix://" + _socket;

    public async Task InitializeAsync()
    {
        _server.AddService(new EchoService());
        _server.Listen(Address);
        await _server.StartAsync().WaitAsync(ToolProcess.Timeout);
    }

    public async Task DisposeAsync()
    {
        await _server.ShutdownAsync().WaitAsync(ToolProcess.Timeout);
        await _server.DisposeAsync();
        File.Delete(_socket);
    }

    [Fact]
    public async Task List_WithProtoAndImportPath_ListsServiceAndMethodsWithoutReflection()
    {
        var services = await ToolProcess.RunAsync(null, "list", Address, "--proto", EchoProto, "-I", Imports);
        var methods = await ToolProcess.RunAsync(null, "list", Address, "echo.Echoer", "--proto", EchoProto, "-I", Imports);

        Assert.Equal(0, services.ExitCode);
        Assert.Equal("echo.Echoer", services.Out.Trim());
        Assert.Equal(0, methods.ExitCode);
        Assert.Contains("echo.Echoer/Echo\tunary\techo.Event -> echo.Event", methods.Out, StringComparison.Ordinal);
        Assert.Contains("echo.Echoer/Split\tserver streaming\techo.Event -> echo.Event", methods.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Describe_ImportedMessage_PrintsProtoText()
    {
        var result = await ToolProcess.RunAsync(null, "describe", Address, "common.Tag", "--proto", EchoProto, "-I", Imports);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("message common.Tag {", result.Out, StringComparison.Ordinal);
        Assert.Contains("string name = 1;", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Call_WellKnownTypesAndImportedMessage_ServerGetsThemAndResponseIsJson()
    {
        const string Request = """{ "when": "2024-01-02T03:04:05Z", "took": "1.500s", "size": "12345678901", "tags": [ { "name": "a", "counts": { "x": "3" } } ], "payload": "AQID" }""";

        var result = await ToolProcess.RunAsync(null, "call", Address, "echo.Echoer/Echo", Request, "--proto", EchoProto, "-I", Imports);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal(Request, result.Out.Trim());
        Assert.Contains("Status: OK (0)", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Call_ServerStreamingWithProto_OneJsonPerResponse()
    {
        var result = await ToolProcess.RunAsync(null, "call", Address, "echo.Echoer/Split", """{ "tags": [ { "name": "a" }, { "name": "b" } ] }""", "--proto", EchoProto, "-I", Imports);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(["""{ "tags": [ { "name": "a" } ] }""", """{ "tags": [ { "name": "b" } ] }"""], result.Out.Trim().Split('\n'));
    }

    [Fact]
    public async Task Bench_WithProto_CallsUnaryMethodAndReportsEveryCall()
    {
        var result = await ToolProcess.RunAsync(null, "bench", Address, "echo.Echoer/Echo", """{ "size": "7" }""", "-c", "2", "-n", "20", "--proto", EchoProto, "-I", Imports);

        Assert.True(result.ExitCode == 0, result.Error);
        // calls, then failed: all 20 made, none failed.
        Assert.Matches(@"\u2502 20\s+\u2502 0\s+\u2502", result.Error);
    }

    [Fact]
    public async Task Call_UnknownMethodWithProto_ListsTheServicesMethods()
    {
        var result = await ToolProcess.RunAsync(null, "call", Address, "echo.Echoer/Shout", "{}", "--proto", EchoProto, "-I", Imports);

        Assert.Equal(5, result.ExitCode);
        Assert.Contains("echo.Echoer has no method 'Shout'; it has: Echo, Split.", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Call_ImportNotFound_SaysWhichFileAndWhere()
    {
        var result = await ToolProcess.RunAsync(null, "call", Address, "echo.Echoer/Echo", "{}", "--proto", EchoProto);

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("common/tag.proto", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_WithoutProto_SaysNoReflectionAndSuggestsProto()
    {
        var result = await ToolProcess.RunAsync(null, "list", Address);

        Assert.Equal(12, result.ExitCode);
        Assert.Contains("does not serve reflection", result.Error, StringComparison.Ordinal);
        Assert.Contains("--proto FILE", result.Error, StringComparison.Ordinal);
    }

    private sealed class EchoService : Echoer.EchoerBase
    {
        public override Task<Event> Echo(Event request, ServerCallContext context) => Task.FromResult(request);

        public override async Task Split(Event request, IServerStreamWriter<Event> responseStream, ServerCallContext context)
        {
            foreach (var tag in request.Tags)
            {
                await responseStream.WriteAsync(new Event { Tags = { tag } });
            }
        }
    }
}

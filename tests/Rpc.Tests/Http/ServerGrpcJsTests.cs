using Rpc.Server;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Http;

/// <summary>
/// Node's @grpc/grpc-js, a stock gRPC client in another process, against one RpcServer's
/// standard-gRPC endpoints: its http:// address over TCP, and its unix:// socket, which also
/// serves Rpc clients and tells the two apart by their first bytes.
/// </summary>
public sealed class ServerGrpcJsTests : IClassFixture<ServerGrpcJsTests.Fixture>
{
    private readonly Fixture _fixture;

    public ServerGrpcJsTests(Fixture fixture) => _fixture = fixture;

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var transport in new[] { "tcp", "unix" })
        {
            foreach (var name in new[]
            {
                "unary", "server_streaming", "client_streaming", "duplex", "metadata_bin", "status_codes",
                "unknown_exception", "unimplemented", "deadline", "deadline_propagated", "cancellation",
                "near_4mib", "over_4mib_refused_by_server",
            })
            {
                data.Add(transport, name);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public Task GrpcJsClient_Case_Passes(string transport, string name) =>
        ServerGrpcJsClient.RunCaseAsync(transport == "tcp" ? _fixture.TcpTarget : _fixture.UnixTarget, name);

    [Fact]
    public async Task GrpcJsClient_KilledDuringCall_ServerTokenFires()
    {
        var key = Guid.NewGuid().ToString();
        await using (var client = ServerGrpcJsClient.Start(_fixture.UnixTarget, "sleep", key))
        {
            await client.WaitForLineAsync("STARTED");
            await client.KillAsync();
        }

        await using var channel = Rpc.Client.RpcChannel.ForAddress("unix://" + _fixture.SocketPath);
        var outcome = await new Rpc.Testing.TestService.TestServiceClient(channel)
            .GetSleepOutcomeAsync(new Rpc.Testing.SleepOutcomeRequest { Key = key, WaitMillis = 10_000 }).ResponseAsync.DefaultTimeout();
        Assert.Equal("cancelled", outcome.Outcome);
    }

    /// <summary>One server for the class: http on a free port and a Unix socket.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        private RpcServer? _server;

        public string SocketPath { get; } = TestPaths.NewSocketPath();

        public string TcpTarget { get; private set; } = "";

        public string UnixTarget => "unix://" + SocketPath;

        public async Task InitializeAsync()
        {
            _server = await ServerHttpTests.StartAsync("http://127.0.0.1:0", "unix://" + SocketPath);
            TcpTarget = _server.BoundAddresses[0]["http://".Length..];
        }

        public async Task DisposeAsync()
        {
            if (_server is not null)
            {
                await _server.DisposeAsync().DefaultTimeout();
            }
        }
    }
}

using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Http;

/// <summary>
/// The standard-gRPC cases against Node's @grpc/grpc-js as the server (tests/interop/grpcjs-server,
/// a separate node process, one for the class), driven by an RpcChannel over http:// (h2c on
/// loopback TCP).
/// </summary>
public sealed class ClientGrpcJsInteropTests : ClientStandardGrpcCases, IClassFixture<ClientGrpcJsInteropTests.Server>
{
    private readonly Server _server;

    public ClientGrpcJsInteropTests(Server server) => _server = server;

    protected override Task<string> StartServerAsync() => _server.AddressAsync();

    // The class's node process ends with the fixture.
    protected override Task StopServerAsync() => Task.CompletedTask;

    /// <summary>One grpc-js server for the class: its cases share nothing but the process (sleep keys are unique).</summary>
    public sealed class Server : IAsyncLifetime
    {
        private ClientGrpcJsServer? _process;
        private Exception? _startFailure;

        /// <summary>The server's address; a failed start fails every case with its reason (npm ci, node), never skips it.</summary>
        public Task<string> AddressAsync() =>
            _process is not null ? Task.FromResult(_process.Address) : Task.FromException<string>(_startFailure ?? new InvalidOperationException("The grpc-js server was not started."));

        public async Task InitializeAsync()
        {
            try
            {
                _process = await ClientGrpcJsServer.StartAsync();
            }
            catch (Exception ex)
            {
                _startFailure = ex;
            }
        }

        public async Task DisposeAsync()
        {
            if (_process is not null)
            {
                await _process.DisposeAsync().DefaultTimeout();
            }
        }
    }
}

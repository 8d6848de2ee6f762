using Rpc.Tests.Infrastructure;

namespace Rpc.Tests.Http;

/// <summary>
/// The standard-gRPC cases against Node's @grpc/grpc-js as the server (tests/interop/grpcjs-server,
/// a separate node process), driven by an RpcChannel over http:// (h2c on loopback TCP).
/// </summary>
public sealed class ClientGrpcJsInteropTests : ClientStandardGrpcCases
{
    private ClientGrpcJsServer? _server;

    protected override async Task<string> StartServerAsync()
    {
        _server = await ClientGrpcJsServer.StartAsync();
        return _server.Address;
    }

    protected override async Task StopServerAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync().DefaultTimeout();
        }
    }
}

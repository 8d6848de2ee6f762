using Rpc.TestServer;
using Rpc.Tests.Infrastructure;

namespace Rpc.Tests.Http;

/// <summary>The standard-gRPC cases against a stock Kestrel + Grpc.AspNetCore server on a loopback TCP port (h2c).</summary>
public sealed class ClientKestrelTcpTests : ClientStandardGrpcCases
{
    private ClientKestrelServer? _server;

    protected override async Task<string> StartServerAsync()
    {
        _server = await ClientKestrelServer.StartTcpAsync(new ConformanceService());
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

/// <summary>
/// The standard-gRPC cases against a stock Kestrel server on a Unix socket (ListenUnixSocket),
/// reached as <c>http+unix:///path</c>.
/// </summary>
public sealed class ClientKestrelUnixTests : ClientStandardGrpcCases
{
    private ClientKestrelServer? _server;

    protected override async Task<string> StartServerAsync()
    {
        _server = await ClientKestrelServer.StartUnixAsync(new ConformanceService(), TestPaths.NewSocketPath());
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

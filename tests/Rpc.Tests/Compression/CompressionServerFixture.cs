using Rpc.Client;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Compression;

/// <summary>The test server as its own process on a Unix socket, answering gzip-compressed to clients that accept it.</summary>
public sealed class CompressionServerFixture : IAsyncLifetime
{
    private ServerProcess? _server;

    public string Address => _server!.Address;

    public async Task InitializeAsync() => _server = await ServerProcess.StartAsync("unix://" + TestPaths.NewSocketPath(), "--response-compression=gzip");

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    public RpcChannel Channel(RpcChannelOptions? options = null) => RpcChannel.ForAddress(Address, options);
}

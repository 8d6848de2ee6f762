using Rpc.Client;
using Rpc.Server;
using Rpc.Tests.Infrastructure;

namespace Rpc.Tests.Server;

/// <summary>A server hosting a test's own service on a fresh Unix socket, with a channel to it.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private TestServer(RpcServer server, string path)
    {
        Server = server;
        SocketPath = path;
        Channel = RpcChannel.ForAddress("unix://" + path);
    }

    public RpcServer Server { get; }

    public string SocketPath { get; }

    public RpcChannel Channel { get; }

    public static async Task<TestServer> StartAsync(object service, RpcServerOptions? options = null)
    {
        var path = TestPaths.NewSocketPath();
        var server = new RpcServer(options);
        server.AddService(service).Listen("unix://" + path);
        await server.StartAsync().DefaultTimeout();
        return new TestServer(server, path);
    }

    public async ValueTask DisposeAsync()
    {
        await Channel.DisposeAsync().DefaultTimeout();
        await Server.DisposeAsync().DefaultTimeout();
        File.Delete(SocketPath);
    }
}

using Rpc.Server;
using Rpc.TestServer;

namespace Rpc.Tests.Infrastructure;

/// <summary>The conformance service hosted in the test process, for tests that poke at the server's edges.</summary>
public sealed class InProcessServer : IAsyncDisposable
{
    private InProcessServer(RpcServer server, string path)
    {
        Server = server;
        SocketPath = path;
    }

    public RpcServer Server { get; }

    public string SocketPath { get; }

    public string Address => "unix://" + SocketPath;

    public static async Task<InProcessServer> StartAsync(RpcServerOptions? options = null, string? path = null)
    {
        path ??= TestPaths.NewSocketPath();
        var server = new RpcServer(options);
        server.AddService(new ConformanceService()).Listen("unix://" + path);
        await server.StartAsync().DefaultTimeout();
        return new InProcessServer(server, path);
    }

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}

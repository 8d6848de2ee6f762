using Rpc.Client;
using Rpc.Server;

namespace Rpc.Tests.Infrastructure;

/// <summary>A server in the test process on one transport, with or without inline scheduling; removes what it made.</summary>
internal sealed class TransportServer : IAsyncDisposable
{
    private readonly string? _socketPath;

    private TransportServer(RpcServer server, string address, string? socketPath)
    {
        Server = server;
        Address = address;
        _socketPath = socketPath;
    }

    public RpcServer Server { get; }

    /// <summary>The bound address (tcp's real port).</summary>
    public string Address { get; }

    /// <summary>Starts <paramref name="service"/> on a fresh address of <paramref name="scheme"/> (unix, shm, tcp, pipe, inproc).</summary>
    public static async Task<TransportServer> StartAsync(string scheme, object service, bool inline)
    {
        string? socketPath = null;
        var address = scheme switch
        {
            "unix" => "unix://" + (socketPath = TestPaths.NewSocketPath()),
            "tcp" => "tcp://127.0.0.1:0",
            _ => $"{scheme}://rpct-{Guid.NewGuid():N}",
        };
        var server = new RpcServer(new RpcServerOptions { UnsafePreferInlineScheduling = inline });
        server.AddService(service).Listen(address);
        await server.StartAsync().DefaultTimeout();
        return new TransportServer(server, server.BoundAddresses.Single(), socketPath);
    }

    /// <summary>A new channel, hence a connection of its own.</summary>
    public RpcChannel Channel(bool inline) =>
        RpcChannel.ForAddress(Address, new RpcChannelOptions { UnsafePreferInlineScheduling = inline });

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync().DefaultTimeout();
        if (_socketPath is not null)
        {
            File.Delete(_socketPath);
        }
    }
}

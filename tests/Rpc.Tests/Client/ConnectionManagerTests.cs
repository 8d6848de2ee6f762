using Grpc.Core;
using Rpc.Client;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Xunit;

namespace Rpc.Tests.Client;

/// <summary>The channel never sticks on a failed connect, and lets go of connections once they close.</summary>
public sealed class ConnectionManagerTests
{
    [Fact]
    public async Task GetConnection_ConnectThrowsUnexpectedExceptionType_NextCallConnects()
    {
        await using var server = await InProcessServer.StartAsync();
        var transport = new FlakyTransport(new InvalidCastException("a bug in some transport"));
        var registry = TransportRegistry.CreateDefault();
        registry.Register(transport);
        await using var channel = RpcChannel.ForAddress("flaky://" + server.SocketPath, new RpcChannelOptions
        {
            Transports = registry,
            InitialReconnectBackoff = TimeSpan.Zero,
        });
        var client = new TestService.TestServiceClient(channel);

        var ex = await Assert.ThrowsAsync<RpcException>(() => client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Contains("a bug in some transport", ex.Status.Detail, StringComparison.Ordinal);

        await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        Assert.Equal(2, transport.Attempts);
    }

    [Fact]
    public async Task ConnectionClosed_NoFurtherCalls_ConnectionDisposed()
    {
        var server = await InProcessServer.StartAsync();
        await using var channel = RpcChannel.ForAddress(server.Address);
        var client = new TestService.TestServiceClient(channel);
        await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        Assert.Equal(1, channel.Connections.OpenConnectionCount);

        await server.DisposeAsync();

        // No call follows: the channel must drop the closed connection by itself.
        await Waits.UntilAsync(() => channel.Connections.OpenConnectionCount == 0, "the closed connection is collected");
    }

    /// <summary>Throws <c>failure</c> on the first connect, then connects over the Unix socket at the address's target.</summary>
    private sealed class FlakyTransport(Exception failure) : ITransport
    {
        private readonly ITransport _inner = TransportRegistry.Default.Resolve(TransportAddress.Parse("unix:///tmp/x.sock"));
        private int _attempts;

        public int Attempts => Volatile.Read(ref _attempts);

        public IReadOnlyCollection<string> Schemes => ["flaky"];

        public void Validate(TransportAddress address)
        {
        }

        public ValueTask<ITransportListener> BindAsync(TransportAddress address, ListenOptions options, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public ValueTask<ITransportConnection> ConnectAsync(TransportAddress address, CancellationToken cancellationToken) =>
            Interlocked.Increment(ref _attempts) == 1
                ? throw failure
                : _inner.ConnectAsync(TransportAddress.Create("unix", address.Target), cancellationToken);
    }
}

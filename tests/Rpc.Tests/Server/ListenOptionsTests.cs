using Rpc.Server;
using Rpc.TestServer;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Xunit;

namespace Rpc.Tests.Server;

/// <summary>Per-address listen settings reach the transport, and impossible ones are refused when set.</summary>
public sealed class ListenOptionsTests
{
    [Fact]
    public async Task Listen_WithSettings_TransportBindsWithThem()
    {
        var transport = new RecordingTransport();
        var registry = TransportRegistry.CreateDefault();
        registry.Register(transport);
        await using var server = new RpcServer(new RpcServerOptions { Transports = registry });
        server.AddService(new ConformanceService()).Listen("recording://a", options =>
        {
            options.AllowedUserIds.Add(4242);
            options.FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupWrite;
        });

        await server.StartAsync().DefaultTimeout();

        var bound = Assert.Single(transport.Bound);
        Assert.Contains(4242u, bound.AllowedUserIds);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupWrite, bound.FileMode);
        Assert.NotNull(bound.Logger);
    }

    [Theory]
    [InlineData("unix:///tmp/rpct-mode.sock", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.SetUser, "setuid")]
    [InlineData("unix:///tmp/rpct-mode.sock", UnixFileMode.UserRead | UnixFileMode.GroupWrite, "owner's write bit")]
    [InlineData("tcp://127.0.0.1:0", UnixFileMode.UserRead | UnixFileMode.UserWrite, "not a file")]
    public async Task Listen_ImpossibleFileMode_RefusedNamingIt(string address, UnixFileMode mode, string reason)
    {
        await using var server = new RpcServer();

        var ex = Assert.Throws<ArgumentException>(() => server.Listen(address, options => options.FileMode = mode));

        Assert.Contains("FileMode", ex.Message, StringComparison.Ordinal);
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Listen_AllowListOnTcp_RefusedNamingIt()
    {
        await using var server = new RpcServer();

        var ex = Assert.Throws<ArgumentException>(() => server.Listen("tcp://127.0.0.1:0", options => options.AllowedUserIds.Add(1000)));

        Assert.Contains("AllowedUserIds", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>Records the settings each bind gets and listens nowhere.</summary>
    private sealed class RecordingTransport : ITransport
    {
        public List<ListenOptions> Bound { get; } = [];

        public IReadOnlyCollection<string> Schemes => ["recording"];

        public void Validate(TransportAddress address)
        {
        }

        public ValueTask<ITransportListener> BindAsync(TransportAddress address, ListenOptions options, CancellationToken cancellationToken)
        {
            Bound.Add(options);
            return ValueTask.FromResult<ITransportListener>(new IdleListener(address));
        }

        public ValueTask<ITransportConnection> ConnectAsync(TransportAddress address, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        private sealed class IdleListener(TransportAddress address) : ITransportListener
        {
            public TransportAddress Address => address;

            public ValueTask<ITransportConnection?> AcceptAsync(CancellationToken cancellationToken = default) =>
                new(Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => (ITransportConnection?)null, TaskScheduler.Default));

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}

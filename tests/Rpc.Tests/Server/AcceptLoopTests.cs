using System.IO.Pipelines;
using Grpc.Core;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.TestServer;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Xunit;

namespace Rpc.Tests.Server;

/// <summary>The accept loop is the server's last line: it outlives any listener fault, and shutdown outlives a listener that fails to close.</summary>
public sealed class AcceptLoopTests
{
    [Fact]
    public async Task AcceptLoop_AcceptThrowsUnexpectedExceptions_KeepsAccepting()
    {
        var path = TestPaths.NewSocketPath();
        var transport = new FaultyTransport { AcceptFailures = 3 };
        await using var server = StartServer(transport, "faulty://" + path);
        await server.StartAsync().DefaultTimeout();
        await using var channel = RpcChannel.ForAddress("unix://" + path);

        await new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty(), deadline: DateTime.UtcNow.AddSeconds(15)).ResponseAsync.DefaultTimeout();
        Assert.True(transport.AcceptFailures < 0, "The listener never failed.");
    }

    [Fact]
    public async Task ShutdownAsync_ListenerDisposeThrows_ClosesTheOthersWithoutThrowing()
    {
        var faultyPath = TestPaths.NewSocketPath();
        var otherPath = TestPaths.NewSocketPath();
        var transport = new FaultyTransport { DisposeFails = true };
        var server = StartServer(transport, "faulty://" + faultyPath);
        server.Listen("unix://" + otherPath);
        await server.StartAsync().DefaultTimeout();
        try
        {
            await server.ShutdownAsync().DefaultTimeout();

            Assert.False(File.Exists(otherPath), "The healthy listener was left open.");
        }
        finally
        {
            File.Delete(faultyPath);
            await server.DisposeAsync().DefaultTimeout();
        }
    }

    [Fact]
    public async Task ShutdownAsync_ConnectionFailedWithUnexpectedException_DoesNotThrow()
    {
        var transport = new BrokenConnectionTransport();
        var registry = TransportRegistry.CreateDefault();
        registry.Register(transport);
        await using var server = new RpcServer(new RpcServerOptions { Transports = registry });
        server.AddService(new ConformanceService()).Listen("broken://a");
        await server.StartAsync().DefaultTimeout();
        await transport.Accepted.Task.DefaultTimeout();

        await server.ShutdownAsync().DefaultTimeout();
    }

    private static RpcServer StartServer(FaultyTransport transport, string address)
    {
        var registry = TransportRegistry.CreateDefault();
        registry.Register(transport);
        var server = new RpcServer(new RpcServerOptions { Transports = registry });
        server.AddService(new ConformanceService()).Listen(address);
        return server;
    }

    /// <summary>Hands out one connection whose input fails with an exception no transport is documented to throw.</summary>
    private sealed class BrokenConnectionTransport : ITransport
    {
        public TaskCompletionSource Accepted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IReadOnlyCollection<string> Schemes => ["broken"];

        public void Validate(TransportAddress address)
        {
        }

        public ValueTask<ITransportListener> BindAsync(TransportAddress address, ListenOptions options, CancellationToken cancellationToken) =>
            ValueTask.FromResult<ITransportListener>(new Listener(this, address));

        public ValueTask<ITransportConnection> ConnectAsync(TransportAddress address, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        private sealed class Listener(BrokenConnectionTransport transport, TransportAddress address) : ITransportListener
        {
            private int _accepted;

            public TransportAddress Address => address;

            public async ValueTask<ITransportConnection?> AcceptAsync(CancellationToken cancellationToken = default)
            {
                if (Interlocked.Exchange(ref _accepted, 1) == 0)
                {
                    transport.Accepted.TrySetResult();
                    return new BrokenConnection();
                }

                await Task.Delay(Timeout.Infinite, cancellationToken);
                return null;
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }

        private sealed class BrokenConnection : ITransportConnection, IDuplexPipe
        {
            private readonly Pipe _input = new();
            private readonly Pipe _output = new();

            public BrokenConnection() => _input.Writer.Complete(new FormatException("a transport bug"));

            public IDuplexPipe Transport => this;

            public PipeReader Input => _input.Reader;

            public PipeWriter Output => _output.Writer;

            public string Peer => "broken";

            public PeerIdentity? PeerIdentity => null;

            public void Abort(Exception? reason = null)
            {
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }

    /// <summary>Listens on the Unix socket at the address's target; its listener fails as told.</summary>
    private sealed class FaultyTransport : ITransport
    {
        private readonly ITransport _unix = TransportRegistry.Default.Resolve(TransportAddress.Parse("unix:///tmp/x.sock"));
        private int _acceptFailures;

        public int AcceptFailures
        {
            get => Volatile.Read(ref _acceptFailures);
            init => _acceptFailures = value;
        }

        public bool DisposeFails { get; init; }

        public IReadOnlyCollection<string> Schemes => ["faulty"];

        public void Validate(TransportAddress address)
        {
        }

        public async ValueTask<ITransportListener> BindAsync(TransportAddress address, ListenOptions options, CancellationToken cancellationToken) =>
            new FaultyListener(this, await _unix.BindAsync(TransportAddress.Create("unix", address.Target), options, cancellationToken));

        public ValueTask<ITransportConnection> ConnectAsync(TransportAddress address, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        private sealed class FaultyListener(FaultyTransport transport, ITransportListener inner) : ITransportListener
        {
            public TransportAddress Address => inner.Address;

            public ValueTask<ITransportConnection?> AcceptAsync(CancellationToken cancellationToken = default) =>
                Interlocked.Decrement(ref transport._acceptFailures) >= 0
                    ? throw new UnauthorizedAccessException("a peer of another user")
                    : inner.AcceptAsync(cancellationToken);

            public async ValueTask DisposeAsync()
            {
                await inner.DisposeAsync();
                if (transport.DisposeFails)
                {
                    throw new InvalidOperationException("the listener failed to close");
                }
            }
        }
    }
}

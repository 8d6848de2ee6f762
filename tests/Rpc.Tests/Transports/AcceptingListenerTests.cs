using System.Net.Sockets;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.Internal;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>The shared accept loop: failures of the medium's accept never end it, and handshakes run off it.</summary>
public sealed class AcceptingListenerTests
{
    [Fact]
    public async Task AcceptAsync_RawAcceptThrowsEmfile_LogsBacksOffAndGoesOn()
    {
        var logger = new ListLogger();
        await using var listener = new ScriptedListener(logger,
            new SocketException((int)SocketError.TooManyOpenSockets),
            new SocketException((int)SocketError.TooManyOpenSockets),
            new SocketException((int)SocketError.NoBufferSpaceAvailable),
            new SocketException((int)SocketError.ConnectionReset),
            new UnauthorizedAccessException("pipe peer is another user"),
            new InvalidOperationException("something nobody expected"))
        {
            RawCount = 1,
        }.Start();

        var accepted = await listener.AcceptAsync().DefaultTimeout();

        Assert.NotNull(accepted);
        Assert.Equal("scripted:1", accepted.Peer);
        // Exhaustion and the unexpected wait, growing; a peer that went away or was refused does not.
        Assert.Equal([10, 20, 40, 80], listener.Delays.Select(d => (int)d.TotalMilliseconds));
        Assert.True(logger.Contains("could not accept"), string.Join('\n', logger.Entries));
        Assert.True(logger.Contains("pipe peer is another user"), string.Join('\n', logger.Entries));
        await accepted.DisposeAsync();
    }

    [Fact]
    public async Task AcceptAsync_HandshakeFails_LogsRefusalAndAcceptsTheNext()
    {
        var logger = new ListLogger();
        await using var listener = new ScriptedListener(logger) { FailHandshakeOf = 1, RawCount = 2 }.Start();

        var accepted = await listener.AcceptAsync().DefaultTimeout();

        Assert.Equal("scripted:2", accepted!.Peer);
        await logger.WaitForAsync("refused a connection from raw 1: handshake 1 failed").DefaultTimeout();
        await accepted.DisposeAsync();
    }

    [Fact]
    public async Task DisposeAsync_HandshakeInProgressAndAcceptWaiting_AcceptReturnsNullAndNothingThrows()
    {
        var listener = new ScriptedListener(new ListLogger()) { HangHandshakes = true, RawCount = 3 }.Start();
        var accepting = listener.AcceptAsync().AsTask();
        await listener.HandshakesStarted.DefaultTimeout();

        await listener.DisposeAsync().DefaultTimeout();

        Assert.Null(await accepting.DefaultTimeout());
        Assert.Null(await listener.AcceptAsync().DefaultTimeout());
        Assert.Equal(3, listener.Discarded);
    }

    /// <summary>A medium whose accept fails as scripted, then yields numbered raw connections.</summary>
    private sealed class ScriptedListener : AcceptingListener<string>
    {
        private readonly Queue<Exception> _failures;
        private readonly TaskCompletionSource _handshakesStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CancellationTokenSource _unbound = new();
        private int _next;
        private int _started;
        private int _discarded;

        public ScriptedListener(ListLogger logger, params Exception[] failures)
            : base(TransportAddress.Create("scripted", "x"), new ListenOptions { Logger = logger }, TimeSpan.FromMinutes(5))
        {
            _failures = new Queue<Exception>(failures);
        }

        public List<TimeSpan> Delays { get; } = [];

        /// <summary>
        /// Starts the accept loop. Not from the constructor: the script's init-only properties are
        /// set after it returns, and a loop started earlier could run with the defaults.
        /// </summary>
        public ScriptedListener Start()
        {
            StartAccepting();
            return this;
        }

        public int RawCount { get; init; } = int.MaxValue;

        public int FailHandshakeOf { get; init; }

        public bool HangHandshakes { get; init; }

        public Task HandshakesStarted => _handshakesStarted.Task;

        public int Discarded => Volatile.Read(ref _discarded);

        protected override async ValueTask<string> AcceptRawAsync(CancellationToken cancellationToken)
        {
            if (_failures.TryDequeue(out var failure))
            {
                throw failure;
            }

            if (_next == RawCount)
            {
                // No more peers: wait until unbound, as a real accept does.
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            return "raw " + ++_next;
        }

        protected override async ValueTask<ITransportConnection> CompleteAsync(string raw, CancellationToken cancellationToken)
        {
            var number = int.Parse(raw["raw ".Length..], System.Globalization.CultureInfo.InvariantCulture);
            if (HangHandshakes)
            {
                if (Interlocked.Increment(ref _started) == RawCount)
                {
                    _handshakesStarted.TrySetResult();
                }

                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            if (number == FailHandshakeOf)
            {
                throw new IOException($"handshake {number} failed");
            }

            var (_, server) = InMemoryConnection.CreatePair();
            return new PeerNamed(server, "scripted:" + number);
        }

        protected override void Discard(string raw) => Interlocked.Increment(ref _discarded);

        protected override void Unbind() => _unbound.Cancel();

        protected override string Describe(string raw) => raw;

        protected override Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
        {
            Delays.Add(delay);
            return Task.CompletedTask;
        }
    }

    private sealed class PeerNamed(ITransportConnection inner, string peer) : ITransportConnection
    {
        public System.IO.Pipelines.IDuplexPipe Transport => inner.Transport;

        public string Peer => peer;

        public PeerIdentity? PeerIdentity => null;

        public void Abort(Exception? reason = null) => inner.Abort(reason);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}

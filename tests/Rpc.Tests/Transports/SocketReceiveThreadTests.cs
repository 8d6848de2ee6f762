using System.Buffers;
using System.IO.Pipelines;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.Internal;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>
/// Socket connections receive on a thread blocked in poll(2); these pin down that it carries bytes
/// of every size and lets go of an idle connection at once from either side.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class SocketReceiveThreadTests
{
    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public async Task Bytes_SmallAndLarge_ArriveWhole(string scheme)
    {
        await using var pair = await ConnectedPair.CreateAsync(scheme);
        var small = new byte[] { 1, 2, 3 };
        var large = new byte[3 * 1024 * 1024];
        Random.Shared.NextBytes(large);

        await pair.Client.Transport.Output.WriteAsync(small);
        await pair.Client.Transport.Output.WriteAsync(large);
        var received = await ReadExactlyAsync(pair.Server.Transport.Input, small.Length + large.Length).DefaultTimeout();

        Assert.Equal(small, received[..small.Length]);
        Assert.True(large.AsSpan().SequenceEqual(received.AsSpan(small.Length)), "The large write arrived changed.");
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public async Task Dispose_IdleConnection_WakesItsReceiveThreadAndEndsThePeersInput(string scheme)
    {
        await using var pair = await ConnectedPair.CreateAsync(scheme);

        // Disposing waits for the receive thread, which sits in poll(2) with nothing to read.
        await pair.Client.DisposeAsync().AsTask().DefaultTimeout();

        var end = await pair.Server.Transport.Input.ReadAsync().AsTask().DefaultTimeout();
        Assert.True(end.IsCompleted);
        Assert.True(end.Buffer.IsEmpty);
    }

    [Fact]
    public async Task ManyConnections_BeyondTheThreadCap_StillCarryBytesBothWays()
    {
        // Both ends of each pair are in this process: 150 pairs hold more connections than there
        // are receive threads to give, so some of them must receive asynchronously.
        var pairs = new List<ConnectedPair>();
        try
        {
            for (var i = 0; i < 150; i++)
            {
                pairs.Add(await ConnectedPair.CreateAsync("unix"));
            }

            Assert.InRange(ReceiveThreads.Count, 1, ReceiveThreads.Max);
            foreach (var pair in pairs)
            {
                await pair.Client.Transport.Output.WriteAsync(new byte[] { 7 });
                await pair.Server.Transport.Output.WriteAsync(new byte[] { 9 });
            }

            foreach (var pair in pairs)
            {
                Assert.Equal(new byte[] { 7 }, await ReadExactlyAsync(pair.Server.Transport.Input, 1).DefaultTimeout());
                Assert.Equal(new byte[] { 9 }, await ReadExactlyAsync(pair.Client.Transport.Input, 1).DefaultTimeout());
            }
        }
        finally
        {
            foreach (var pair in pairs)
            {
                await pair.DisposeAsync();
            }
        }
    }

    private static async Task<byte[]> ReadExactlyAsync(PipeReader reader, int length)
    {
        while (true)
        {
            var result = await reader.ReadAsync();
            if (result.Buffer.Length >= length)
            {
                var bytes = result.Buffer.Slice(0, length).ToArray();
                reader.AdvanceTo(result.Buffer.GetPosition(length));
                return bytes;
            }

            Assert.False(result.IsCompleted, "The stream ended early.");
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private sealed class ConnectedPair : IAsyncDisposable
    {
        private readonly ITransportListener _listener;

        private ConnectedPair(ITransportListener listener, ITransportConnection client, ITransportConnection server)
        {
            _listener = listener;
            Client = client;
            Server = server;
        }

        public ITransportConnection Client { get; }

        public ITransportConnection Server { get; }

        public static async Task<ConnectedPair> CreateAsync(string scheme)
        {
            var address = TransportAddress.Parse(scheme == "unix" ? "unix://" + TestPaths.NewSocketPath() : "tcp://127.0.0.1:0");
            var transport = TransportRegistry.Default.Resolve(address);
            var listener = await transport.BindAsync(address, new ListenOptions(), CancellationToken.None);
            var accept = listener.AcceptAsync().AsTask();
            var client = await transport.ConnectAsync(listener.Address, CancellationToken.None);
            var server = await accept.DefaultTimeout() ?? throw new InvalidOperationException("The listener closed.");
            return new ConnectedPair(listener, client, server);
        }

        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await Server.DisposeAsync();
            await _listener.DisposeAsync();
        }
    }
}

using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.Internal;
using Rpc.Transports.SharedMemory;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>A peer that stops reading: the full ring must cost no thread-pool thread, and dispose must not wait for it.</summary>
public sealed class SharedMemoryBackpressureTests
{
    private const int Capacity = 4096;

    // Only a bound that proves "does not hang".
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Send_PeerNeverReadsAndRingFull_NoPoolThreadSleeps()
    {
        await using var pair = await Pair.ConnectAsync();
        var ring = ((SharedMemoryConnection)pair.Client).Outgoing;

        await pair.FillClientRingAsync();

        // The send loop now waits for space; give it every chance to do so on a pool thread.
        await Task.Delay(200);
        // Under load the ring can be seen full before the server's input pipe is: its receive thread
        // then drains the ring once more, and the sender refills it. Full again is the steady state.
        await pair.WaitClientRingFullAsync();
        Assert.Equal(Capacity, ring.UnreadBytes);
        Assert.Equal(0, ring.PoolThreadSpaceWaits);
    }

    [Fact]
    public async Task Dispose_PeerNeverReadsAndRingFull_FinishesPromptly()
    {
        await using var pair = await Pair.ConnectAsync();
        await pair.FillClientRingAsync();

        await ((IAsyncDisposable)pair.Client).DisposeAsync().AsTask().WaitAsync(Prompt);
    }

    [Fact]
    public async Task Send_PeerResumesReading_EverythingArrives()
    {
        await using var pair = await Pair.ConnectAsync();
        var sent = await pair.FillClientRingAsync();

        var received = 0L;
        while (received < sent)
        {
            var result = await pair.Server.Transport.Input.ReadAsync().AsTask().WaitAsync(Prompt);
            received += result.Buffer.Length;
            pair.Server.Transport.Input.AdvanceTo(result.Buffer.End);
        }

        Assert.Equal(sent, received);
    }

    /// <summary>A connected client and server over a small ring; the server reads nothing unless told.</summary>
    private sealed class Pair : IAsyncDisposable
    {
        private readonly ITransportListener _listener;

        private Pair(ITransportListener listener, ITransportConnection client, ITransportConnection server)
        {
            _listener = listener;
            Client = client;
            Server = server;
        }

        public ITransportConnection Client { get; }

        public ITransportConnection Server { get; }

        public static async Task<Pair> ConnectAsync()
        {
            var transport = new SharedMemoryTransport(new SharedMemoryTransportOptions { RingCapacity = Capacity });
            var address = TransportAddress.Parse($"shm://rpct-{Guid.NewGuid():N}");
            var listener = await transport.BindAsync(address, new ListenOptions(), CancellationToken.None).DefaultTimeout();
            var accepting = listener.AcceptAsync().AsTask();
            var client = await transport.ConnectAsync(address, CancellationToken.None).DefaultTimeout();
            var server = (await accepting.DefaultTimeout())!;
            return new Pair(listener, client, server);
        }

        /// <summary>
        /// Writes more than the server's input pipe and the ring hold, and waits until the ring is
        /// full (the server's receive thread then blocks on its full input pipe). Returns the bytes written.
        /// </summary>
        public async Task<long> FillClientRingAsync()
        {
            const int total = 3 * 1024 * 1024;
            var output = Client.Transport.Output;
            var chunk = new byte[64 * 1024];
            new Random(5).NextBytes(chunk);
            for (var written = 0; written < total; written += chunk.Length)
            {
                await output.WriteAsync(chunk).AsTask().DefaultTimeout();
            }

            await WaitClientRingFullAsync();
            return total;
        }

        /// <summary>Waits (bounded) until the client's outgoing ring is full.</summary>
        public async Task WaitClientRingFullAsync()
        {
            var ring = ((SharedMemoryConnection)Client).Outgoing;
            using var deadline = new CancellationTokenSource(Prompt);
            while (ring.UnreadBytes < Capacity)
            {
                await Task.Delay(10, deadline.Token);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Server.DisposeAsync().AsTask().WaitAsync(Prompt);
            await Client.DisposeAsync().AsTask().WaitAsync(Prompt);
            await _listener.DisposeAsync().AsTask().WaitAsync(Prompt);
        }
    }
}

/// <summary>Shared-memory receive threads count against the process's cap; runs alone since the count is process-wide.</summary>
[Collection(RunsAlone.Name)]
public sealed class SharedMemoryReceiveThreadTests
{
    [Fact]
    public async Task Connect_EachSideReservesAReceiveThread_ReleasedOnDispose()
    {
        var before = ReceiveThreads.Count;
        var transport = new SharedMemoryTransport(new SharedMemoryTransportOptions());
        var address = TransportAddress.Parse($"shm://rpct-{Guid.NewGuid():N}");
        await using var listener = await transport.BindAsync(address, new ListenOptions(), CancellationToken.None).DefaultTimeout();
        var accepting = listener.AcceptAsync().AsTask();
        var client = await transport.ConnectAsync(address, CancellationToken.None).DefaultTimeout();
        var server = (await accepting.DefaultTimeout())!;

        Assert.Equal(before + 2, ReceiveThreads.Count);

        await client.DisposeAsync().DefaultTimeout();
        await server.DisposeAsync().DefaultTimeout();
        Assert.Equal(before, ReceiveThreads.Count);
    }
}

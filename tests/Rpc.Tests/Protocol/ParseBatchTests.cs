using System.Buffers.Binary;
using Microsoft.Extensions.Logging.Abstractions;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.Protocol;
using Rpc.Transports.SharedMemory;
using Xunit;

namespace Rpc.Tests.Protocol;

/// <summary>
/// On a medium read in place (shared memory), the read loop parses a bounded batch of frames, then
/// lets the readers they woke run before it parses more: a stream's queue stays short however much
/// the peer has written ahead.
/// </summary>
public sealed class ParseBatchTests
{
    private const int Messages = 2_000;
    private const int MessageSize = 64;

    [Fact]
    public async Task ReadLoop_ManyFramesAlreadyInTheRing_WakesTheReaderBetweenBatches()
    {
        var transport = new SharedMemoryTransport(new SharedMemoryTransportOptions());
        var address = TransportAddress.Parse($"shm://rpct-{Guid.NewGuid():N}");
        await using var listener = await transport.BindAsync(address, new ListenOptions(), CancellationToken.None).DefaultTimeout();
        var accepting = listener.AcceptAsync().AsTask();
        await using var client = await transport.ConnectAsync(address, CancellationToken.None).DefaultTimeout();
        await using var serverTransport = (await accepting.DefaultTimeout())!;

        var output = client.Transport.Output;
        Preface.Write(output);
        FrameWriter.WriteSettings(output, new ConnectionSettings());
        await output.FlushAsync().AsTask().DefaultTimeout();
        var ring = ((SharedMemoryConnection)client).Outgoing;
        var rest = (long)(Messages - 1) * (FrameHeader.Size + MessageSize);
        var firstRead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<Reading>? reading = null;
        var calls = new ConnectionPair.Acceptor((_, stream, _) => reading = ReadAllAsync(stream, onFirst: () =>
        {
            // On the server's receive thread, which parses nothing while this runs: the peer's
            // other messages all land in the ring meanwhile, so a read loop without a bound
            // would parse every one of them before this reader next runs.
            firstRead.SetResult();
            var deadline = Environment.TickCount64 + 5_000;
            while (ring.UnreadBytes < rest && Environment.TickCount64 < deadline)
            {
                Thread.SpinWait(100);
            }
        }));
        await using var server = new MultiplexedConnection(serverTransport, new ConnectionOptions(), calls, NullLogger.Instance);
        // The handshake read the preface and settings; the read loop now waits on the ring, so the
        // server's receive thread delivers all that follows.
        await server.StartAsync(CancellationToken.None).DefaultTimeout();

        FrameWriter.WriteCallStart(output, 1, "/test.Service/Stream", CallStart.NoTimeout, null);
        WriteMessage(output, 0);
        await output.FlushAsync().AsTask().DefaultTimeout();
        await firstRead.Task.DefaultTimeout();
        for (var i = 1; i < Messages; i++)
        {
            WriteMessage(output, i);
        }

        await output.FlushAsync().AsTask().DefaultTimeout();
        await ConnectionPair.WaitUntil(() => reading is not null, "the call reached the server");
        var result = await reading!.DefaultTimeout();

        Assert.Equal(Messages, result.Count);
        Assert.True(result.InOrder, "Messages arrived out of order.");
        // 32 KiB of 74-byte frames is 443 messages; everything at once would be 1,999.
        Assert.InRange(result.LongestRun, 1, 600);
    }

    private static void WriteMessage(System.IO.Pipelines.PipeWriter output, int index)
    {
        var payload = new byte[MessageSize];
        BinaryPrimitives.WriteInt32LittleEndian(payload, index);
        FrameWriter.WriteMessage(output, 1, payload, FrameFlags.EndMessage);
    }

    private readonly record struct Reading(int Count, int LongestRun, bool InOrder);

    /// <summary>Reads every message; a run is how many it took without waiting, after a wait.</summary>
    private static async Task<Reading> ReadAllAsync(CallStream stream, Action onFirst)
    {
        var count = 0;
        var run = 0;
        var longest = 0;
        var inOrder = true;
        while (count < Messages)
        {
            var pending = stream.ReadMessageAsync(CancellationToken.None);
            if (!pending.IsCompleted)
            {
                longest = Math.Max(longest, run);
                run = 0;
            }

            if (await pending is not { } message)
            {
                break;
            }

            inOrder &= BinaryPrimitives.ReadInt32LittleEndian(message.Buffer) == count;
            message.Release();
            if (count == 0)
            {
                onFirst();
            }

            count++;
            run++;
        }

        return new Reading(count, Math.Max(longest, run), inOrder);
    }
}

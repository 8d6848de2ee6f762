using System.Buffers;
using System.IO.Pipelines;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.SharedMemory;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>
/// The shared-memory input read in place (<see cref="RingReader"/>): bytes arrive whole and in order
/// across the ring's wrap, a read waits for bytes past what it examined, and every end of a wait
/// (cancel, token, end, error, a peer that moves the tail back) reaches the reader.
/// </summary>
public sealed class RingReaderTests : IDisposable
{
    // Small, so that 4 MiB wraps the ring a thousand times.
    private const int Capacity = 4096;
    private readonly SharedSegment _segment = SharedSegment.Create("rr-" + Guid.NewGuid().ToString("N")[..8], Capacity);

    public void Dispose() => _segment.Dispose();

    [Fact]
    public async Task RandomWrites_ReadInPlace_EveryByteArrivesInOrder_AcrossTheWrap()
    {
        var producer = _segment.GetRing(0, TimeSpan.Zero);
        var consumer = _segment.GetRing(0, TimeSpan.FromMicroseconds(20));
        var reader = new RingReader(consumer);
        var sent = new byte[4 * 1024 * 1024];
        new Random(7).NextBytes(sent);

        var receiving = RunReceiveThread(reader);
        var writing = Task.Run(() =>
        {
            var random = new Random(8);
            for (var at = 0; at < sent.Length;)
            {
                var size = Math.Min(random.Next(1, 3 * Capacity), sent.Length - at);
                producer.Write(sent.AsSpan(at, size));
                at += size;
            }

            producer.CloseProducer();
        });

        var received = new ArrayBufferWriter<byte>(sent.Length);
        var wrapped = 0;
        while (true)
        {
            var result = await reader.ReadAsync().AsTask().DefaultTimeout();
            wrapped += result.Buffer.IsSingleSegment ? 0 : 1;
            // Keep a few bytes back now and then, as a parser does with half a frame.
            var keep = result.IsCompleted ? 0 : (int)Math.Min(result.Buffer.Length, Random.Shared.Next(0, 3) == 0 ? 5 : 0);
            var taken = result.Buffer.Slice(0, result.Buffer.Length - keep);
            foreach (var segment in taken)
            {
                received.Write(segment.Span);
            }

            reader.AdvanceTo(taken.End, result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await writing.DefaultTimeout();
        await receiving.DefaultTimeout();
        Assert.True(sent.AsSpan().SequenceEqual(received.WrittenSpan), "The bytes arrived changed or out of order.");
        Assert.True(wrapped > 0, "No read ever saw the ring wrap.");
    }

    [Fact]
    public async Task ReadThatExaminedEverything_WaitsForMore_ThenGetsTheKeptBytesWithTheNew()
    {
        var producer = _segment.GetRing(0, TimeSpan.Zero);
        var reader = new RingReader(_segment.GetRing(0, TimeSpan.Zero));
        var receiving = RunReceiveThread(reader);
        producer.Write([1, 2, 3, 4, 5]);

        var first = await reader.ReadAsync().AsTask().DefaultTimeout();
        Assert.Equal(5, first.Buffer.Length);
        reader.AdvanceTo(first.Buffer.GetPosition(2), first.Buffer.End);

        var waiting = reader.ReadAsync().AsTask();
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted, "The read returned with nothing past what was examined.");

        producer.Write([6]);
        var second = await waiting.DefaultTimeout();
        Assert.Equal(new byte[] { 3, 4, 5, 6 }, second.Buffer.ToArray());
        reader.AdvanceTo(second.Buffer.End);

        producer.CloseProducer();
        var end = await reader.ReadAsync().AsTask().DefaultTimeout();
        Assert.True(end.IsCompleted);
        Assert.True(end.Buffer.IsEmpty);
        reader.AdvanceTo(end.Buffer.End);
        await receiving.DefaultTimeout();
    }

    [Fact]
    public async Task CancelPendingRead_WakesTheWaitingRead_AsCanceled_AndTheNextReadWaitsAgain()
    {
        var producer = _segment.GetRing(0, TimeSpan.Zero);
        var reader = new RingReader(_segment.GetRing(0, TimeSpan.Zero));
        var receiving = RunReceiveThread(reader);

        var waiting = reader.ReadAsync().AsTask();
        reader.CancelPendingRead();
        var canceled = await waiting.DefaultTimeout();
        Assert.True(canceled.IsCanceled);
        reader.AdvanceTo(canceled.Buffer.End);

        var next = reader.ReadAsync().AsTask();
        await Task.Delay(50);
        Assert.False(next.IsCompleted, "A cancel counted for more than one read.");
        producer.Write([9]);
        var read = await next.DefaultTimeout();
        Assert.False(read.IsCanceled);
        Assert.Equal(new byte[] { 9 }, read.Buffer.ToArray());
        reader.AdvanceTo(read.Buffer.End);

        producer.CloseProducer();
        await receiving.DefaultTimeout();
    }

    [Fact]
    public async Task TokenCancelled_WhileTheReadWaits_ThrowsOperationCanceled()
    {
        var producer = _segment.GetRing(0, TimeSpan.Zero);
        var reader = new RingReader(_segment.GetRing(0, TimeSpan.Zero));
        var receiving = RunReceiveThread(reader);
        using var cancel = new CancellationTokenSource();

        var waiting = reader.ReadAsync(cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.DefaultTimeout());

        producer.CloseProducer();
        await receiving.DefaultTimeout();
    }

    [Fact]
    public async Task MediumFails_ReaderGetsWhatIsLeft_ThenTheError()
    {
        var producer = _segment.GetRing(0, TimeSpan.Zero);
        var consumer = _segment.GetRing(0, TimeSpan.Zero);
        var reader = new RingReader(consumer);
        var receiving = RunReceiveThread(reader);
        producer.Write([1, 2]);
        var first = await reader.ReadAsync().AsTask().DefaultTimeout();
        reader.AdvanceTo(first.Buffer.Start, first.Buffer.End);

        var waiting = reader.ReadAsync().AsTask();
        producer.Write([3]);
        consumer.Abort();
        // The receive thread reports the abort only once it has seen every byte written before it.
        var rest = await waiting.DefaultTimeout();
        Assert.Equal(new byte[] { 1, 2, 3 }, rest.Buffer.ToArray());
        reader.AdvanceTo(rest.Buffer.Start, rest.Buffer.End);
        await receiving.DefaultTimeout();

        var error = await Assert.ThrowsAsync<IOException>(() => reader.ReadAsync().AsTask().DefaultTimeout());
        Assert.Contains("gone", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PeerMovesTheTailBack_TheWaitingReadFailsWithCorruption()
    {
        var producer = _segment.GetRing(0, TimeSpan.Zero);
        var reader = new RingReader(_segment.GetRing(0, TimeSpan.Zero));
        var receiving = RunReceiveThread(reader);
        producer.Write([1, 2, 3, 4]);
        var first = await reader.ReadAsync().AsTask().DefaultTimeout();
        reader.AdvanceTo(first.Buffer.End);

        var waiting = reader.ReadAsync().AsTask();
        SetTail(2);
        WakeConsumer();
        await Assert.ThrowsAsync<SharedRingCorruptException>(() => waiting.DefaultTimeout());
        await receiving.DefaultTimeout();
    }

    [Fact]
    public async Task PeerMovesTheTailBack_WhileTheReaderIsBusy_TheNextReadFailsWithCorruption()
    {
        var producer = _segment.GetRing(0, TimeSpan.Zero);
        var reader = new RingReader(_segment.GetRing(0, TimeSpan.Zero));
        var receiving = RunReceiveThread(reader);
        producer.Write([1, 2, 3, 4]);
        var first = await reader.ReadAsync().AsTask().DefaultTimeout();
        SetTail(2);
        WakeConsumer();
        reader.AdvanceTo(first.Buffer.End);

        // Not a read that waits for bytes that never come: the tail moved, which is news.
        await Assert.ThrowsAsync<SharedRingCorruptException>(() => reader.ReadAsync().AsTask().DefaultTimeout());
        await receiving.DefaultTimeout();
    }

    [Fact]
    public async Task PeerPutsTheTailBeyondTheRing_TheWaitingReadFailsWithCorruption()
    {
        var reader = new RingReader(_segment.GetRing(0, TimeSpan.Zero));
        var receiving = RunReceiveThread(reader);
        var waiting = reader.ReadAsync().AsTask();
        SetTail(Capacity + 1);
        WakeConsumer();
        await Assert.ThrowsAsync<SharedRingCorruptException>(() => waiting.DefaultTimeout());
        await receiving.DefaultTimeout();
    }

    [Fact]
    public async Task AdvanceTo_APositionOfAnotherBuffer_IsRefused()
    {
        var producer = _segment.GetRing(0, TimeSpan.Zero);
        var reader = new RingReader(_segment.GetRing(0, TimeSpan.Zero));
        var receiving = RunReceiveThread(reader);
        producer.Write([1, 2, 3]);
        var read = await reader.ReadAsync().AsTask().DefaultTimeout();

        var elsewhere = new ReadOnlySequence<byte>(new byte[3]);
        Assert.Throws<ArgumentOutOfRangeException>(() => reader.AdvanceTo(elsewhere.End));
        reader.AdvanceTo(read.Buffer.End);
        Assert.Throws<InvalidOperationException>(() => reader.AdvanceTo(read.Buffer.End));

        producer.CloseProducer();
        await receiving.DefaultTimeout();
    }

    [Fact]
    public async Task Retire_WhileABufferIsHeld_WaitsForItsAdvance_ThenReadsFail()
    {
        var producer = _segment.GetRing(0, TimeSpan.Zero);
        var reader = new RingReader(_segment.GetRing(0, TimeSpan.Zero));
        producer.Write([1, 2, 3]);
        var read = await reader.ReadAsync().AsTask().DefaultTimeout();

        // The connection may not unmap the ring while the protocol still parses from it.
        Assert.False(reader.TryRetire());
        reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        Assert.True(reader.TryRetire());

        // A read loop that outlived the connection gets an error, never the unmapped ring.
        await Assert.ThrowsAsync<IOException>(() => reader.ReadAsync().AsTask().DefaultTimeout());
    }

    /// <summary>Plays the connection's receive thread: waits and wakes until the ring ends, then reports how.</summary>
    private static Task RunReceiveThread(RingReader reader) => Task.Factory.StartNew(
        () =>
        {
            Exception? error = null;
            try
            {
                while (reader.WaitAndDeliver())
                {
                }
            }
            catch (IOException ex)
            {
                error = ex;
            }

            reader.End(error);
        },
        CancellationToken.None,
        TaskCreationOptions.LongRunning,
        TaskScheduler.Default);

    private unsafe void SetTail(long value) => Volatile.Write(ref *(long*)(_segment.GetRingPointer(0) + RingLayout.TailOffset), value);

    private unsafe void WakeConsumer()
    {
        var signal = (int*)(_segment.GetRingPointer(0) + RingLayout.DataSignalOffset);
        Interlocked.Increment(ref *signal);
        Futex.WakeAll(signal);
    }
}

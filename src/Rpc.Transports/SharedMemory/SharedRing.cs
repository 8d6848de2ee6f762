using System.Diagnostics;
using static Rpc.Transports.SharedMemory.RingLayout;

namespace Rpc.Transports.SharedMemory;

/// <summary>
/// A single-producer, single-consumer byte ring in shared memory. The stream above it is already
/// framed, so the ring carries plain bytes: a message larger than the ring simply passes through
/// it in pieces.
/// <para>
/// Ordering: the producer copies bytes, then publishes the new tail with a release store; the
/// consumer reads the tail with an acquire load, copies, then publishes the new head with a release
/// store. Before deciding whether to wake the other side, each side issues a full fence between its
/// publish and its read of the other's "sleeping" flag; the sleeper sets its flag, fences, then
/// re-checks the ring before it sleeps. One of the two always sees the other, so no wake-up is lost.
/// </para>
/// </summary>
internal sealed unsafe class SharedRing
{
    // A safety net, not a mechanism: every wait is ended by an explicit wake-up.
    private static readonly TimeSpan MaxSleep = TimeSpan.FromSeconds(5);

    private readonly byte* _ring;
    private readonly byte* _data;
    private readonly int _capacity;
    private readonly long _spinTicks;
    private volatile bool _aborted;

    public SharedRing(byte* ring, int capacity, TimeSpan spin)
    {
        _ring = ring;
        _data = ring + RingHeaderSize;
        _capacity = capacity;
        _spinTicks = (long)(spin.TotalSeconds * Stopwatch.Frequency);
    }

    private long* Tail => (long*)(_ring + TailOffset);

    private long* Head => (long*)(_ring + HeadOffset);

    private int* DataSignal => (int*)(_ring + DataSignalOffset);

    private int* ConsumerSleeping => (int*)(_ring + ConsumerSleepingOffset);

    private int* ProducerClosed => (int*)(_ring + ProducerClosedOffset);

    private int* SpaceSignal => (int*)(_ring + SpaceSignalOffset);

    private int* ProducerSleeping => (int*)(_ring + ProducerSleepingOffset);

    /// <summary>Producer: writes all of <paramref name="source"/>, waiting for space as needed.</summary>
    public void Write(ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            var tail = *Tail;
            var free = _capacity - (tail - Volatile.Read(ref *Head));
            if (free == 0)
            {
                WaitForSpace(tail);
                continue;
            }

            var count = (int)Math.Min(free, source.Length);
            var start = (int)(tail & (_capacity - 1));
            var first = Math.Min(count, _capacity - start);
            source[..first].CopyTo(new Span<byte>(_data + start, first));
            source[first..count].CopyTo(new Span<byte>(_data, count - first));
            Volatile.Write(ref *Tail, tail + count);
            source = source[count..];

            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref *ConsumerSleeping) != 0)
            {
                Interlocked.Increment(ref *DataSignal);
                Futex.WakeAll(DataSignal);
            }
        }
    }

    /// <summary>Producer: no more bytes follow; the consumer reads what is left, then end of stream.</summary>
    public void CloseProducer()
    {
        Volatile.Write(ref *ProducerClosed, 1);
        Interlocked.Increment(ref *DataSignal);
        Futex.WakeAll(DataSignal);
    }

    /// <summary>
    /// Consumer: reads at least one byte, waiting while the ring is empty. Returns 0 at end of
    /// stream; throws <see cref="IOException"/> when the ring was aborted and holds nothing more.
    /// </summary>
    public int Read(Span<byte> destination)
    {
        while (true)
        {
            var head = *Head;
            var available = Volatile.Read(ref *Tail) - head;
            if (available > 0)
            {
                var count = (int)Math.Min(available, destination.Length);
                var start = (int)(head & (_capacity - 1));
                var first = Math.Min(count, _capacity - start);
                new ReadOnlySpan<byte>(_data + start, first).CopyTo(destination);
                new ReadOnlySpan<byte>(_data, count - first).CopyTo(destination[first..]);
                Volatile.Write(ref *Head, head + count);

                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref *ProducerSleeping) != 0)
                {
                    Interlocked.Increment(ref *SpaceSignal);
                    Futex.WakeAll(SpaceSignal);
                }

                return count;
            }

            if (Volatile.Read(ref *ProducerClosed) != 0)
            {
                // The close was published after the last tail: look once more before reporting the end.
                if (Volatile.Read(ref *Tail) != head)
                {
                    continue;
                }

                return 0;
            }

            if (_aborted)
            {
                throw new IOException("The shared-memory peer is gone.");
            }

            WaitForData(head);
        }
    }

    /// <summary>Fails this side's waits from now on and wakes any that sleep.</summary>
    public void Abort()
    {
        _aborted = true;
        Interlocked.Increment(ref *DataSignal);
        Futex.WakeAll(DataSignal);
        Interlocked.Increment(ref *SpaceSignal);
        Futex.WakeAll(SpaceSignal);
    }

    /// <summary>Spins briefly (a quick answer then costs no system call), then sleeps on the futex.</summary>
    private void WaitForData(long head)
    {
        var until = Stopwatch.GetTimestamp() + _spinTicks;
        var spinner = default(SpinWait);
        while (Stopwatch.GetTimestamp() < until && !_aborted)
        {
            if (Volatile.Read(ref *Tail) != head || Volatile.Read(ref *ProducerClosed) != 0)
            {
                return;
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }

        var signal = Volatile.Read(ref *DataSignal);
        Volatile.Write(ref *ConsumerSleeping, 1);
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref *Tail) == head && Volatile.Read(ref *ProducerClosed) == 0 && !_aborted)
        {
            Futex.Wait(DataSignal, signal, MaxSleep);
        }

        Volatile.Write(ref *ConsumerSleeping, 0);
    }

    private void WaitForSpace(long tail)
    {
        var until = Stopwatch.GetTimestamp() + _spinTicks;
        var spinner = default(SpinWait);
        while (Stopwatch.GetTimestamp() < until && !_aborted)
        {
            if (Volatile.Read(ref *Head) != tail - _capacity)
            {
                return;
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }

        var signal = Volatile.Read(ref *SpaceSignal);
        Volatile.Write(ref *ProducerSleeping, 1);
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref *Head) == tail - _capacity && !_aborted)
        {
            Futex.Wait(SpaceSignal, signal, MaxSleep);
        }

        Volatile.Write(ref *ProducerSleeping, 0);
        if (_aborted)
        {
            throw new IOException("The shared-memory peer is gone.");
        }
    }
}

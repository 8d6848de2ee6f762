using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using Rpc.Transports.Internal;
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
/// <para>
/// Trust: the peer can write anything into the shared page. Each side therefore keeps its own
/// position in a field of this object (the shared copy is only published, never read back) and
/// checks every load of the peer's position against it: the peer's tail may only lie in
/// [head, head + capacity] and never move back; the peer's head only in [tail − capacity, tail],
/// never moving back. A violation fails this ring for good with <see cref="SharedRingCorruptException"/>,
/// so no copy is ever sized or placed by an unchecked value.
/// </para>
/// <para>
/// Threads: one thread at a time produces (the connection's send loop) and one consumes (its
/// receive thread, through <see cref="Read"/>); <see cref="Abort"/> may come from any thread. Read
/// in place (<see cref="RingReader"/>), consuming is split: the receive thread only waits for the
/// tail to change (<see cref="WaitForTailChange"/>, <see cref="RawTail"/>), and whoever holds the
/// reader checks the tail and releases bytes (<see cref="ReadableEnd"/>, <see cref="Release"/>).
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
    // The consumer's spin on an empty ring, judged by what it catches; the receive thread's alone.
    private AdaptiveSpin _dataSpin;
    private volatile bool _aborted;
    private volatile string? _corruption;

    // The producer's own tail and the consumer's own head: the authoritative copies (see above).
    private long _tail;
    private long _head;

    // The latest positions of the peer this side has accepted, so that they never move back.
    private long _peerHead;
    private long _peerTail;
    private int _poolThreadSpaceWaits;

    public SharedRing(byte* ring, int capacity, TimeSpan spin)
    {
        _ring = ring;
        _data = ring + RingHeaderSize;
        _capacity = capacity;
        _spinTicks = (long)(spin.TotalSeconds * Stopwatch.Frequency);
        _dataSpin = new AdaptiveSpin(_spinTicks);
    }

    private long* Tail => (long*)(_ring + TailOffset);

    private long* Head => (long*)(_ring + HeadOffset);

    private int* DataSignal => (int*)(_ring + DataSignalOffset);

    private int* ConsumerSleeping => (int*)(_ring + ConsumerSleepingOffset);

    private int* ProducerClosed => (int*)(_ring + ProducerClosedOffset);

    private int* SpaceSignal => (int*)(_ring + SpaceSignalOffset);

    private int* ProducerSleeping => (int*)(_ring + ProducerSleepingOffset);

    /// <summary>
    /// How often a thread-pool thread slept in this ring waiting for space. The connection never
    /// lets one do that (it waits on a thread of its own); tests check it stays 0.
    /// </summary>
    internal int PoolThreadSpaceWaits => Volatile.Read(ref _poolThreadSpaceWaits);

    /// <summary>Bytes written and not yet read, as the shared page says; for tests (unchecked, no side effects).</summary>
    internal long UnreadBytes => Volatile.Read(ref *Tail) - Volatile.Read(ref *Head);

    /// <summary>Producer: whether there is room for at least one byte. Throws once aborted or corrupt.</summary>
    public bool HasSpace
    {
        get
        {
            ThrowIfAborted();
            return _tail - LoadHead() < _capacity;
        }
    }

    /// <summary>Producer: writes all of <paramref name="source"/>, sleeping on the futex for space as needed.</summary>
    public void Write(ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            var written = TryWrite(source);
            source = source[written..];
            if (written == 0 && !SpinForSpace())
            {
                SleepForSpace();
            }
        }
    }

    /// <summary>Producer: writes as much of <paramref name="source"/> as fits now, without waiting; returns how much.</summary>
    public int TryWrite(ReadOnlySpan<byte> source)
    {
        ThrowIfAborted();
        var tail = _tail;
        var free = _capacity - (tail - LoadHead());
        if (free == 0 || source.IsEmpty)
        {
            return 0;
        }

        var count = (int)Math.Min(free, source.Length);
        var start = (int)(tail & (_capacity - 1));
        var first = Math.Min(count, _capacity - start);
        source[..first].CopyTo(new Span<byte>(_data + start, first));
        source[first..count].CopyTo(new Span<byte>(_data, count - first));
        _tail = tail + count;
        Volatile.Write(ref *Tail, _tail);

        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref *ConsumerSleeping) != 0)
        {
            Interlocked.Increment(ref *DataSignal);
            Futex.WakeAll(DataSignal);
        }

        return count;
    }

    /// <summary>Producer: spins for at most the spin duration until there is space; whether there is.</summary>
    public bool SpinForSpace()
    {
        var full = _tail - _capacity;
        var until = Stopwatch.GetTimestamp() + _spinTicks;
        var spinner = default(SpinWait);
        while (!_aborted)
        {
            if (Volatile.Read(ref *Head) != full)
            {
                return true;
            }

            if (Stopwatch.GetTimestamp() >= until)
            {
                return false;
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }

        return false;
    }

    /// <summary>
    /// Producer: sleeps on the futex while the ring is full, until the consumer frees space, this
    /// ring is aborted (then throws), or <see cref="MaxSleep"/> passes. Blocks the calling thread:
    /// never call it on the thread pool.
    /// </summary>
    public void SleepForSpace()
    {
        if (Thread.CurrentThread.IsThreadPoolThread)
        {
            Interlocked.Increment(ref _poolThreadSpaceWaits);
        }

        var full = _tail - _capacity;
        var signal = Volatile.Read(ref *SpaceSignal);
        Volatile.Write(ref *ProducerSleeping, 1);
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref *Head) == full && !_aborted)
        {
            Futex.Wait(SpaceSignal, signal, MaxSleep);
        }

        Volatile.Write(ref *ProducerSleeping, 0);
        ThrowIfAborted();
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
            var head = _head;
            var available = LoadTail() - head;
            if (available > 0)
            {
                var count = (int)Math.Min(available, destination.Length);
                var start = (int)(head & (_capacity - 1));
                var first = Math.Min(count, _capacity - start);
                new ReadOnlySpan<byte>(_data + start, first).CopyTo(destination);
                new ReadOnlySpan<byte>(_data, count - first).CopyTo(destination[first..]);
                Release(head + count);
                return count;
            }

            // Any change of the tail is looked at (and checked) above; the end only once it is all read.
            if (!WaitForTailChange(head, out _))
            {
                return 0;
            }
        }
    }

    /// <summary>Bytes the ring holds at most.</summary>
    public int Capacity => _capacity;

    /// <summary>The first byte of the ring's data; bytes from <see cref="Consumed"/> to the tail stay put until released.</summary>
    public byte* Data => _data;

    /// <summary>In-place consumer: where the bytes not yet released begin (this side's head).</summary>
    public long Consumed => _head;

    /// <summary>
    /// In-place consumer, by whichever thread holds the reader (see <see cref="RingReader"/>): the
    /// producer's tail, checked as every load of it is. Bytes up to it may be read where they lie.
    /// </summary>
    public long ReadableEnd() => LoadTail();

    /// <summary>The producer's tail as the shared page says it now, unchecked: only to notice a change, never to size a read.</summary>
    public long RawTail => Volatile.Read(ref *Tail);

    /// <summary>Whether the producer said no more bytes come.</summary>
    public bool ProducerHasClosed => Volatile.Read(ref *ProducerClosed) != 0;

    /// <summary>
    /// In-place consumer: hands the bytes before <paramref name="head"/> back to the producer, and
    /// wakes it if it sleeps for space. <paramref name="head"/> lies in [<see cref="Consumed"/>, the last checked tail].
    /// </summary>
    public void Release(long head)
    {
        if (head == _head)
        {
            return;
        }

        Debug.Assert(head > _head && head <= _peerTail, "Released bytes that were never readable.");
        _head = head;
        Volatile.Write(ref *Head, head);
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref *ProducerSleeping) != 0)
        {
            Interlocked.Increment(ref *SpaceSignal);
            Futex.WakeAll(SpaceSignal);
        }
    }

    /// <summary>
    /// In-place consumer's receive thread: waits (spin, then futex) until the shared tail is no
    /// longer <paramref name="seen"/> and gives it unchecked (any value, the peer's to write), or
    /// returns false once the producer closed without moving it. Throws <see cref="IOException"/>
    /// once aborted with nothing new.
    /// </summary>
    public bool WaitForTailChange(long seen, out long tail)
    {
        long waitBegan = 0;
        var slept = false;
        while (true)
        {
            tail = RawTail;
            if (tail != seen)
            {
                if (slept)
                {
                    _dataSpin.Missed(Stopwatch.GetTimestamp() - waitBegan);
                }

                return true;
            }

            if (ProducerHasClosed)
            {
                // The close was published after the last tail: look once more before reporting the end.
                if (RawTail != seen)
                {
                    continue;
                }

                return false;
            }

            if (_aborted)
            {
                throw new IOException("The shared-memory peer is gone.");
            }

            if (waitBegan == 0)
            {
                waitBegan = Stopwatch.GetTimestamp();
            }

            slept |= !WaitForData(seen);
        }
    }

    /// <summary>
    /// Producer: the consumer's head, checked. It is in [tail − capacity, tail] and at or after the
    /// last one seen, or the ring is corrupt.
    /// </summary>
    private long LoadHead()
    {
        ThrowIfCorrupt();
        var head = Volatile.Read(ref *Head);
        if (head < _peerHead || head > _tail || head < _tail - _capacity)
        {
            Corrupt($"the consumer's head {head} is outside [{Math.Max(_peerHead, _tail - _capacity)}, {_tail}]");
        }

        _peerHead = head;
        return head;
    }

    /// <summary>
    /// Consumer: the producer's tail, checked. It is in [head, head + capacity] and at or after the
    /// last one seen, or the ring is corrupt.
    /// </summary>
    private long LoadTail()
    {
        ThrowIfCorrupt();
        var tail = Volatile.Read(ref *Tail);
        if (tail < _peerTail || tail < _head || tail > _head + _capacity)
        {
            Corrupt($"the producer's tail {tail} is outside [{Math.Max(_peerTail, _head)}, {_head + _capacity}]");
        }

        _peerTail = tail;
        return tail;
    }

    [DoesNotReturn]
    private void Corrupt(string what)
    {
        _corruption = $"The shared-memory peer corrupted the ring: {what}.";
        Abort();
        throw new SharedRingCorruptException(_corruption);
    }

    private void ThrowIfCorrupt()
    {
        if (_corruption is { } corruption)
        {
            throw new SharedRingCorruptException(corruption);
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

    /// <summary>
    /// Spins briefly (a quick answer then costs no system call), then sleeps on the futex until the
    /// tail leaves <paramref name="head"/>; true when the spin caught the data (or the end).
    /// </summary>
    private bool WaitForData(long head)
    {
        var until = Stopwatch.GetTimestamp() + _dataSpin.Budget;
        var spinner = default(SpinWait);
        while (Stopwatch.GetTimestamp() < until && !_aborted)
        {
            if (Volatile.Read(ref *Tail) != head || Volatile.Read(ref *ProducerClosed) != 0)
            {
                return true;
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
        return false;
    }

    private void ThrowIfAborted()
    {
        ThrowIfCorrupt();
        if (_aborted)
        {
            throw new IOException("The shared-memory peer is gone.");
        }
    }
}

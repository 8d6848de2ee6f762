using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Tasks.Sources;
using Rpc.Transports.Internal;

namespace Rpc.Transports.SharedMemory;

/// <summary>
/// The input of a shared-memory connection, read where the bytes lie in the incoming ring: a read
/// returns the ring's unreleased bytes (two segments when they wrap), and <see cref="AdvanceTo(SequencePosition, SequencePosition)"/>
/// hands the consumed ones back to the producer. Nothing is copied on the way to the protocol's
/// frame parser, which copies each message's payload once into its own buffer.
/// </summary>
/// <remarks>
/// <para>
/// Trust: the peer can write into the ring at any time, also over bytes it already published. Every
/// position is still this side's own or checked (<see cref="SharedRing.ReadableEnd"/>), so a read
/// never reaches outside the ring; the frame parser reads each header once, into a local, before it
/// checks it; and a payload the peer rewrites while it is parsed can only garble the peer's own message.
/// </para>
/// <para>
/// Only for a ring that holds at least one frame of the largest size this side accepts
/// (<see cref="BufferLimits.MinMaxBufferSize"/>): the reader releases bytes only once it has parsed
/// whole frames out of them, so a smaller ring could fill half-way through one and stop.
/// </para>
/// <para>
/// Threads: whoever holds the reader owns the read-side fields (<c>_examined</c>, the buffer's
/// bounds, the segments): the protocol's read loop between its calls, or the thread that claimed a
/// waiting read (state Waiting → Delivering by compare-and-swap) until it completes that read. The
/// receive thread alone waits on the ring and owns <c>_seenTail</c>. Cancelling, the end and the
/// reader's completion are flags any thread may set, and then try to claim a waiting read.
/// </para>
/// <para>
/// The mapping: every touch of the ring by the reader's side, and the holding of a buffer from a
/// read to its AdvanceTo, happen under <c>_memoryLock</c>, and <see cref="TryRetire"/> succeeds
/// only while no buffer is held; after it, reads fail. The connection unmaps the ring only after a
/// retire, so a read loop that outlives its connection's dispose can never touch unmapped memory.
/// </para>
/// </remarks>
internal sealed class RingReader : InPlaceInput, IValueTaskSource<ReadResult>
{
    private const int Idle = 0;
    private const int Waiting = 1;
    private const int Delivering = 2;

    private readonly SharedRing _ring;
    private readonly ReadOnlyMemory<byte> _memory;
    private readonly Segment _first = new();
    private readonly Segment _second = new();
    private readonly Lock _memoryLock = new();
    // Continuations run inline: the receive thread that completes a read then runs the frame loop.
    private ManualResetValueTaskSourceCore<ReadResult> _core;
    private int _state;
    private int _cancelRequested;
    private CancellationTokenRegistration _tokenRegistration;

    // The holder's (see remarks).
    private long _examined;
    private long _bufferStart;
    private long _bufferEnd;
    // Under _memoryLock.
    private bool _reading;
    private bool _retired;

    // The receive thread's; _deliveringOn is its id while it completes a read (the reader runs inline then).
    private long _seenTail;
    private volatile int _deliveringOn;

    // Set once each; _endError is written before _ended.
    private Exception? _endError;
    private volatile bool _ended;
    private volatile bool _completed;

    public unsafe RingReader(SharedRing ring)
    {
        _ring = ring;
        _memory = new NativeMemory(ring.Data, ring.Capacity).Memory;
        _examined = ring.Consumed;
        _seenTail = ring.Consumed;
    }

    /// <summary>Whether a ring of <paramref name="capacity"/> bytes can be read in place (see remarks).</summary>
    public static bool Fits(int capacity) => capacity >= BufferLimits.MinMaxBufferSize;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfCompleted();
        cancellationToken.ThrowIfCancellationRequested();
        // Called from inside the receive thread's delivery, a read waits even with bytes there: the
        // receive thread then runs what parsing deferred (readers' wake-ups, handler starts) and
        // delivers them at once. Taken here, a producer that keeps writing would keep the frame
        // loop going and that work waiting, as a pipe's writer never does (it is busy flushing).
        if (_deliveringOn == Environment.CurrentManagedThreadId)
        {
            _core.Reset();
            Interlocked.Exchange(ref _state, Waiting);
            return WaitingRead(cancellationToken);
        }

        lock (_memoryLock)
        {
            if (HasNews())
            {
                return new ValueTask<ReadResult>(Take());
            }

            _core.Reset();
            // A full fence: the receive thread reads the tail, then this state; we write the state,
            // then read the tail. One of the two sees the other, so no arrival is missed.
            Interlocked.Exchange(ref _state, Waiting);
            if (HasNews() && Interlocked.CompareExchange(ref _state, Idle, Waiting) == Waiting)
            {
                return new ValueTask<ReadResult>(Take());
            }
        }

        return WaitingRead(cancellationToken);
    }

    private ValueTask<ReadResult> WaitingRead(CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _tokenRegistration = cancellationToken.UnsafeRegister(static state => ((RingReader)state!).AbandonWait(), this);
        }

        return new ValueTask<ReadResult>(this, _core.Version);
    }

    public override bool TryRead(out ReadResult result)
    {
        ThrowIfCompleted();
        lock (_memoryLock)
        {
            if (HasNews() || _ring.RawTail != _ring.Consumed)
            {
                result = Take();
                return true;
            }
        }

        result = default;
        return false;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        if (!_reading)
        {
            throw new InvalidOperationException("AdvanceTo without a read to advance.");
        }

        var consumedAt = Absolute(consumed);
        var examinedAt = Absolute(examined);
        if (consumedAt > examinedAt)
        {
            throw new ArgumentOutOfRangeException(nameof(examined), "The examined position lies before the consumed one.");
        }

        lock (_memoryLock)
        {
            _reading = false;
            _examined = examinedAt;
            _ring.Release(consumedAt);
        }
    }

    /// <summary>
    /// The connection, before it unmaps the ring: true once no buffer is held, and no read will
    /// touch the ring again; false while the reader still holds one (ask again later).
    /// </summary>
    public bool TryRetire()
    {
        lock (_memoryLock)
        {
            _retired |= !_reading;
            return _retired;
        }
    }

    public override void CancelPendingRead()
    {
        Volatile.Write(ref _cancelRequested, 1);
        if (Interlocked.CompareExchange(ref _state, Delivering, Waiting) == Waiting)
        {
            Deliver();
        }
    }

    public override void Complete(Exception? exception = null) => _completed = true;

    public override bool WaitAndDeliver()
    {
        if (_completed)
        {
            return false;
        }

        if (!TryDeliverWhatIsHere())
        {
            if (!_ring.WaitForTailChange(_seenTail, out var tail))
            {
                return false;
            }

            _seenTail = tail;
            TryDeliverWhatIsHere();
        }

        return !_completed;
    }

    /// <summary>
    /// Receive thread: completes a read that waits for bytes already in the ring (it went waiting
    /// from inside the last delivery); false when none waits or nothing is there for it.
    /// </summary>
    private bool TryDeliverWhatIsHere()
    {
        if (Volatile.Read(ref _state) != Waiting || Interlocked.CompareExchange(ref _state, Delivering, Waiting) != Waiting)
        {
            return false;
        }

        // Holding the read, this thread may look at what it examined. What it delivers counts as
        // seen: a read that took it must not be woken again for it. A tail moved back is news
        // too: the read's checked load fails the ring.
        var tail = _ring.RawTail;
        if (tail != _examined || _ended || Volatile.Read(ref _cancelRequested) != 0)
        {
            _seenTail = Math.Max(_seenTail, tail);
            DeliverHere();
            return true;
        }

        // Back to waiting; an end or cancel that came meanwhile found the read held and left it to us.
        Interlocked.Exchange(ref _state, Waiting);
        if ((_ended || Volatile.Read(ref _cancelRequested) != 0) && Interlocked.CompareExchange(ref _state, Delivering, Waiting) == Waiting)
        {
            Deliver();
            return true;
        }

        return false;
    }

    /// <summary>Receive thread: delivers, marking this thread as the one the reader yields back to.</summary>
    private void DeliverHere()
    {
        _deliveringOn = Environment.CurrentManagedThreadId;
        try
        {
            Deliver();
        }
        finally
        {
            _deliveringOn = 0;
        }
    }

    public override void End(Exception? error)
    {
        _endError = error;
        _ended = true;
        if (Interlocked.CompareExchange(ref _state, Delivering, Waiting) == Waiting)
        {
            Deliver();
        }
    }

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token)
    {
        // Dispose, not Unregister: it waits for a callback already running, which would otherwise
        // fail the next read. On the callback's own thread (its continuation runs inline) it does not wait.
        _tokenRegistration.Dispose();
        return _core.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    /// <summary>
    /// Under the lock: something a read returns at once: bytes past the examined ones, the end, a
    /// cancel, or the retirement's error. Unchecked: <see cref="Take"/> checks, so a tail the peer
    /// moved back is news too, and fails the ring there.
    /// </summary>
    private bool HasNews() => _retired || _ended || Volatile.Read(ref _cancelRequested) != 0 || _ring.RawTail != _examined;

    /// <summary>The token's callback: the waiting read fails as cancelled.</summary>
    private void AbandonWait()
    {
        if (Interlocked.CompareExchange(ref _state, Delivering, Waiting) == Waiting)
        {
            Volatile.Write(ref _state, Idle);
            _core.SetException(new OperationCanceledException("The read was cancelled."));
        }
    }

    /// <summary>The claimant of a waiting read completes it, on its own thread.</summary>
    private void Deliver()
    {
        ReadResult result = default;
        Exception? failure = null;
        try
        {
            lock (_memoryLock)
            {
                result = Take();
            }
        }
        catch (Exception ex)
        {
            // The ring's corruption or the end's error: the reader's await throws it.
            failure = ex;
        }

        // Idle before completing: the continuation, inline here, reads again at once.
        Volatile.Write(ref _state, Idle);
        if (failure is null)
        {
            _core.SetResult(result);
        }
        else
        {
            _core.SetException(failure);
        }
    }

    /// <summary>
    /// The holder, under the lock: the ring's unreleased bytes as a buffer, checked; throws the
    /// end's error once nothing new is left, and after the retirement.
    /// </summary>
    private ReadResult Take()
    {
        if (_retired)
        {
            throw new IOException("The connection has ended.");
        }

        var canceled = Interlocked.Exchange(ref _cancelRequested, 0) != 0;
        // The end is read before the tail: once it is seen, the tail read after it is the last one.
        var ended = _ended;
        var end = _ring.ReadableEnd();
        if (ended && !canceled && end == _examined && _endError is { } error)
        {
            throw error;
        }

        var start = _ring.Consumed;
        var length = (int)(end - start);
        var offset = (int)(start & (_ring.Capacity - 1));
        var first = Math.Min(length, _ring.Capacity - offset);
        ReadOnlySequence<byte> buffer;
        if (first == length)
        {
            _first.Set(_memory.Slice(offset, length), 0, null);
            buffer = new ReadOnlySequence<byte>(_first, 0, _first, length);
        }
        else
        {
            _second.Set(_memory[..(length - first)], first, null);
            _first.Set(_memory.Slice(offset, first), 0, _second);
            buffer = new ReadOnlySequence<byte>(_first, 0, _second, length - first);
        }

        _bufferStart = start;
        _bufferEnd = end;
        _reading = true;
        return new ReadResult(buffer, canceled, isCompleted: ended && _endError is null);
    }

    private long Absolute(SequencePosition position)
    {
        var index = position.GetInteger();
        var at = position.GetObject() switch
        {
            Segment segment when ReferenceEquals(segment, _first) => _bufferStart + index,
            Segment segment when ReferenceEquals(segment, _second) => _bufferStart + _first.Memory.Length + index,
            _ => throw new ArgumentOutOfRangeException(nameof(position), "The position is not in the last buffer read."),
        };
        return at >= _bufferStart && at <= _bufferEnd
            ? at
            : throw new ArgumentOutOfRangeException(nameof(position), "The position is not in the last buffer read.");
    }

    private void ThrowIfCompleted()
    {
        if (_completed)
        {
            throw new InvalidOperationException("Reading after the reader completed.");
        }
    }

    /// <summary>A piece of the ring; two of them, reused by every read (a buffer is valid only until its AdvanceTo).</summary>
    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public void Set(ReadOnlyMemory<byte> memory, long runningIndex, Segment? next)
        {
            Memory = memory;
            RunningIndex = runningIndex;
            Next = next;
        }
    }
}

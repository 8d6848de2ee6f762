using System.Buffers;
using System.IO.Pipelines;

namespace Rpc.Transports.Internal;

/// <summary>
/// A byte stream behind two pipes: one loop moves received bytes into the input pipe, another
/// sends what the protocol wrote to the output pipe, batching whatever frames were written between
/// two sends. Subclasses supply only the raw receive, send and close of their medium.
/// </summary>
/// <remarks>
/// Writers only append; the send loop runs on the thread that flushes (<see cref="SendScheduler"/>):
/// the connection's receive thread, which runs handlers and continuations after each parse
/// (<see cref="DeferredWork"/>) and batches their sends on sockets, or a caller's thread, which
/// hands the loop to the pool when more output queued behind its batch. Session 2 measured a pool
/// send loop better than sending under the write lock (64 callers on a Unix socket 2.4× against
/// 1.1–1.8×); with the receive thread doing most writes that batching now happens there.
/// </remarks>
internal abstract class TransportConnection : ITransportConnection, IDuplexPipe
{
    private const int MinReceiveBufferSize = 16 * 1024;

    // A bulk transfer fills whatever it is given: reads grow up to this while they come back full,
    // so a 1 MiB message takes a few system calls and wake-ups of the frame loop instead of 64.
    private const int MaxReceiveBufferSize = 256 * 1024;

    // Frames written between two sends usually land in one segment, so one system call sends them.
    private const int SendSegmentSize = 16 * 1024;

    // A send loop that finds frames already waiting sends less than this only after yielding once:
    // server streaming, two runs each, unix 0.90–0.93M → 1.09–1.24M msgs/s, tcp 0.63–0.69M →
    // 0.77–0.79M; unary latency and 64 callers unchanged (an idle connection never waits here).
    private const int CoalesceBelow = 8 * 1024;

    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly SendScheduler _sendScheduler = new();
    private readonly Lock _closeLock = new();
    private Task _receiveTask = Task.CompletedTask;
    private Task _sendTask = Task.CompletedTask;
    // Made with the receive thread; null for a connection received asynchronously, which defers nothing.
    private DeferredWork? _deferred;
    // Set by Start for a medium read in place; then _input is never used.
    private InPlaceInput? _inPlace;
    private Task<FlushResult>? _pendingFlush;
    private volatile bool _receiveEnded;
    private bool _closed;
    private int _disposed;

    /// <param name="peer">The peer's description.</param>
    /// <param name="maxReceiveBuffer">Bytes received ahead of the protocol before receiving pauses.</param>
    protected TransportConnection(string peer, int maxReceiveBuffer)
    {
        Peer = peer;
        // The protocol's frame loop runs inline on the receive completion, saving a hop; it never blocks.
        _input = new Pipe(new PipeOptions(
            pauseWriterThreshold: maxReceiveBuffer, resumeWriterThreshold: maxReceiveBuffer / 2,
            readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
            minimumSegmentSize: MinReceiveBufferSize, useSynchronizationContext: false));
        // The output never pauses its writer: the protocol's per-stream flow control bounds what is
        // queued, and a writer that never waits lets the read loop send control frames safely.
        _output = new Pipe(new PipeOptions(
            pauseWriterThreshold: 0,
            readerScheduler: _sendScheduler, writerScheduler: PipeScheduler.Inline,
            minimumSegmentSize: SendSegmentSize, useSynchronizationContext: false));
    }

    public IDuplexPipe Transport => this;

    /// <summary>
    /// Sends on the thread that flushes from now on, instead of waking a thread-pool thread for the
    /// send loop (the protocol's <c>UnsafePreferInlineScheduling</c>).
    /// </summary>
    internal void PreferInlineSends() => _sendScheduler.RunInline();

    /// <summary>
    /// Runs <paramref name="work"/> on this connection's receive thread once what arrived is parsed,
    /// when the caller is that thread; false otherwise, and the caller runs it elsewhere.
    /// </summary>
    internal bool TryDefer(Action<object?> work, object? state) => _deferred?.TryDefer(work, state) ?? false;

    /// <summary>What the protocol wrote and the send loop has not sent yet.</summary>
    internal Protocol.OutputBacklog Backlog { get; } = new();

    public string Peer { get; }

    /// <summary>Set by a medium that learns who its peer is (credentials, certificate) before <see cref="Start"/>.</summary>
    public PeerIdentity? PeerIdentity { get; protected set; }

    PipeReader IDuplexPipe.Input => (PipeReader?)_inPlace ?? _input.Reader;

    PipeWriter IDuplexPipe.Output => _output.Writer;

    /// <summary>Starts the loops; call once the medium is connected.</summary>
    protected void Start()
    {
        _inPlace = CreateInPlaceInput();
        var mode = Receiving;
        var onThread = mode == ReceiveMode.Thread || (mode == ReceiveMode.ThreadWhileAvailable && ReceiveThreads.TryReserve());
        _receiveTask = onThread ? StartReceiveThread(reserved: mode == ReceiveMode.ThreadWhileAvailable) : ReceiveLoopAsync();
        _sendTask = SendLoopAsync();
    }

    /// <summary>
    /// Whether the medium is read by blocking a thread of the connection's own (see
    /// <see cref="Receive"/>) or by an asynchronous loop over <see cref="ReceiveAsync"/>.
    /// A thread that waits in the kernel is woken directly when bytes arrive, and the protocol's
    /// frame loop then runs on it.
    /// </summary>
    protected virtual ReceiveMode Receiving => ReceiveMode.Async;

    /// <summary>How a medium waits for bytes.</summary>
    protected enum ReceiveMode
    {
        /// <summary>An asynchronous loop over <see cref="ReceiveAsync"/>.</summary>
        Async,

        /// <summary>
        /// A thread of the connection's own over <see cref="Receive"/>, while the process has fewer
        /// than <see cref="ReceiveThreads.Max"/> of them; asynchronously beyond that.
        /// </summary>
        ThreadWhileAvailable,

        /// <summary>Always a thread of its own: the medium has no asynchronous wait.</summary>
        Thread,
    }

    /// <summary>
    /// Whether a send is a system call worth sharing: then a send loop that finds frames already
    /// waiting yields once before sending a small batch. Not for shared memory, where a send is a copy.
    /// </summary>
    protected virtual bool CoalescesSends => true;

    /// <summary>
    /// Whether a send is so dear that a handler or reader running on the receive thread sends what
    /// it wrote only when it returns (<see cref="SendScheduler.DeferOn"/>). TCP's is.
    /// </summary>
    protected virtual bool CoalescesSendsWithinWork => false;

    /// <summary>
    /// Bytes up to which a writer that keeps writing inside one item on the receive thread has its
    /// sends gathered (<see cref="SendScheduler.DeferOn"/>); 0, the default, sends each flush.
    /// </summary>
    protected virtual int SendBatchWithinItem => 0;

    /// <summary>
    /// Whether a read made while the protocol parses on the receive thread first lets the work it
    /// deferred run (true for input read in place, see <see cref="InPlaceInput"/>); set by
    /// <see cref="Start"/>, before the protocol reads.
    /// </summary>
    internal bool ReadsYieldToDeferredWork => _inPlace is not null;

    /// <summary>The protocol, after each flush: sends a gathered batch that has reached its size.</summary>
    internal void AfterFlush() => _sendScheduler.SendParkedOnceFull(Backlog.UnsentBytes);

    /// <summary>
    /// The input, for a medium whose received bytes the protocol can read where they lie; null
    /// (the default) copies them into a pipe. Only with <see cref="ReceiveMode.Thread"/>: the
    /// receive thread then waits for bytes and wakes the reader (<see cref="InPlaceInput.WaitAndDeliver"/>).
    /// </summary>
    protected virtual InPlaceInput? CreateInPlaceInput() => null;

    /// <summary>Blocks until at least one byte is read; 0 means the peer ended the stream.</summary>
    protected virtual int Receive(Span<byte> buffer) => throw new NotSupportedException();

    /// <summary>Reads at least one byte; 0 means the peer ended the stream.</summary>
    protected virtual ValueTask<int> ReceiveAsync(Memory<byte> buffer) => throw new NotSupportedException();

    /// <summary>Releases what must outlive both loops (a memory mapping, say); runs after they end.</summary>
    protected virtual ValueTask DisposeMediumAsync() => ValueTask.CompletedTask;

    /// <summary>Sends all of <paramref name="buffer"/>.</summary>
    protected abstract ValueTask SendAsync(ReadOnlyMemory<byte> buffer);

    /// <summary>Tells the peer no more bytes come, without closing the receive side.</summary>
    protected abstract void ShutdownSend();

    /// <summary>Releases the medium; pending receives and sends fail.</summary>
    protected abstract void CloseMedium();

    /// <summary>Whether <paramref name="ex"/> is the medium reporting its end rather than a bug.</summary>
    protected virtual bool IsConnectionEnd(Exception ex) => ex is IOException or ObjectDisposedException or OperationCanceledException;

    public void Abort(Exception? reason = null)
    {
        _output.Reader.CancelPendingRead();
        Close();
    }

    /// <summary>
    /// How long <see cref="DisposeAsync"/> lets the send loop hand what was written to the medium
    /// before closing the medium under it. The protocol sets it from its connection options.
    /// </summary>
    internal TimeSpan DrainTimeout { get; set; } = DefaultDrainTimeout;

    internal static TimeSpan DefaultDrainTimeout => TimeSpan.FromSeconds(5);

    /// <summary>
    /// Ends the connection: what was written is sent for at most <see cref="DrainTimeout"/>, then
    /// the medium closes. Runs after the protocol's read loop, which owns the input, has ended.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        // Once only: the medium's release (a receive-thread reservation, a mapping) must not run twice.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _output.Writer.CompleteAsync().ConfigureAwait(false);
        await ((PipeReader?)_inPlace ?? _input.Reader).CompleteAsync().ConfigureAwait(false);
        try
        {
            // A peer that stopped reading (stopped, wedged, hostile) would hold the send loop, and
            // so this dispose and whoever awaits it, forever.
            await _sendTask.WaitAsync(DrainTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Closing the medium below fails the send that waits on the peer, which ends the loop.
        }

        Close();
        await _sendTask.ConfigureAwait(false);
        await _receiveTask.ConfigureAwait(false);
        await DisposeMediumAsync().ConfigureAwait(false);
    }

    private void Close()
    {
        // The medium closes under the lock: a second Close (the dispose's) returns only once the
        // first one's CloseMedium is done, so nothing of the medium is released (a shared-memory
        // segment unmapped) while another thread still closes it.
        lock (_closeLock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            CloseMedium();
        }
    }

    private Task StartReceiveThread(bool reserved)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _deferred = new DeferredWork(() => StartReceiveThread(done, reserved));
        _sendScheduler.DeferOn(_deferred, batch: CoalescesSends, batchWithinWork: CoalescesSendsWithinWork, batchWithinItemUpTo: SendBatchWithinItem);
        StartReceiveThread(done, reserved);
        return done.Task;
    }

    private void StartReceiveThread(TaskCompletionSource done, bool reserved)
    {
        var thread = new Thread(() => ReceiveLoop(done, reserved)) { IsBackground = true, Name = "Rpc receive " + Peer };
        thread.Start();
    }

    /// <summary>
    /// Runs for the connection's life on its receive thread, or from where a rescued thread left it
    /// (<see cref="DeferredWork"/>): the thread that leaves a blocked item after the watchdog
    /// handed the loop on touches nothing here again.
    /// </summary>
    private void ReceiveLoop(TaskCompletionSource done, bool reserved)
    {
        var deferred = _deferred!;
        deferred.TakeOwnership();
        if (_receiveEnded)
        {
            Finish(deferred, done, reserved);
            return;
        }

        if (_inPlace is { } inPlace)
        {
            ReceiveInPlace(inPlace, deferred, done, reserved);
            return;
        }

        Exception? error = null;
        var abandoned = false;
        var writer = _input.Writer;
        try
        {
            // A rescued loop first waits out the flush its predecessor left, as that one would have.
            if (Interlocked.Exchange(ref _pendingFlush, null) is { } left && IsEnd(left.GetAwaiter().GetResult()))
            {
                return;
            }

            var readSize = MinReceiveBufferSize;
            while (true)
            {
                // What parsing deferred (readers to wake, handlers to start, sends) runs before the
                // thread next waits for bytes.
                if (!deferred.RunPending())
                {
                    abandoned = true;
                    return;
                }

                var span = writer.GetSpan(readSize);
                var received = Receive(span);
                if (received == 0)
                {
                    break;
                }

                readSize = received == span.Length ? Math.Min(readSize * 2, MaxReceiveBufferSize) : MinReceiveBufferSize;
                writer.Advance(received);
                var flush = writer.FlushAsync();
                FlushResult result;
                if (flush.IsCompleted)
                {
                    result = flush.Result;
                }
                else
                {
                    // The protocol stopped reading with the pipe full. Work it deferred may be what
                    // it waits for, so that runs first; should a rescue come meanwhile, the next
                    // thread waits for this flush.
                    var pending = flush.AsTask();
                    _pendingFlush = pending;
                    if (!deferred.RunPending())
                    {
                        abandoned = true;
                        return;
                    }

                    _pendingFlush = null;
                    // This thread exists to wait; blocking it on a full input pipe is the backpressure.
                    result = pending.GetAwaiter().GetResult();
                }

                if (IsEnd(result))
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (IsConnectionEnd(ex))
        {
            error = AsReceiveError(ex);
        }
        finally
        {
            if (!abandoned)
            {
                EndReceiving(writer.Complete, error, deferred, done, reserved);
            }
        }
    }

    /// <summary>The receive loop of a medium read in place: wait for bytes, wake the reader, run what it deferred.</summary>
    private void ReceiveInPlace(InPlaceInput input, DeferredWork deferred, TaskCompletionSource done, bool reserved)
    {
        Exception? error = null;
        var abandoned = false;
        try
        {
            while (true)
            {
                if (!deferred.RunPending())
                {
                    abandoned = true;
                    return;
                }

                if (!input.WaitAndDeliver())
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (IsConnectionEnd(ex))
        {
            error = AsReceiveError(ex);
        }
        finally
        {
            if (!abandoned)
            {
                EndReceiving(input.End, error, deferred, done, reserved);
            }
        }
    }

    /// <summary>What the reader is told of a medium that failed: nothing once we closed it ourselves.</summary>
    private IOException? AsReceiveError(Exception ex) =>
        Volatile.Read(ref _closed) ? null : ex as IOException ?? new IOException("The connection was reset by the peer.", ex);

    /// <summary>The receive thread's last steps, unless a rescue took the loop from it.</summary>
    private void EndReceiving(Action<Exception?> endInput, Exception? error, DeferredWork deferred, TaskCompletionSource done, bool reserved)
    {
        _receiveEnded = true;
        endInput(error);
        Finish(deferred, done, reserved);
    }

    private static bool IsEnd(FlushResult result) => result.IsCompleted || result.IsCanceled;

    /// <summary>After the input completed: calls it failed may have deferred their wake-ups here.</summary>
    private static void Finish(DeferredWork deferred, TaskCompletionSource done, bool reserved)
    {
        if (!deferred.RunPending())
        {
            // A blocked item: the thread the watchdog started finishes instead.
            return;
        }

        deferred.ReleaseOwnership();
        if (reserved)
        {
            ReceiveThreads.Release();
        }

        done.SetResult();
    }

    private async Task ReceiveLoopAsync()
    {
        // Start on the thread pool, not on whatever context the connection was created from.
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        Exception? error = null;
        var writer = _input.Writer;
        try
        {
            var readSize = MinReceiveBufferSize;
            while (true)
            {
                var memory = writer.GetMemory(readSize);
                var received = await ReceiveAsync(memory).ConfigureAwait(false);
                if (received == 0)
                {
                    break;
                }

                readSize = received == memory.Length ? Math.Min(readSize * 2, MaxReceiveBufferSize) : MinReceiveBufferSize;

                writer.Advance(received);
                var flush = await writer.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (IsConnectionEnd(ex))
        {
            error = Volatile.Read(ref _closed) ? null : new IOException("The connection was reset by the peer.", ex);
        }
        finally
        {
            await writer.CompleteAsync(error).ConfigureAwait(false);
        }
    }

    private async Task SendLoopAsync()
    {
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        Exception? error = null;
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var pending = reader.ReadAsync();
                var burst = pending.IsCompleted;
                if (burst && !Thread.CurrentThread.IsThreadPoolThread && !_sendScheduler.OnReceiveThread && !_sendScheduler.IsInline)
                {
                    // A writer's own thread sent the last batch and more came meanwhile: the rest
                    // goes from the pool, not at that caller's expense.
                    await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
                }

                var result = await pending.ConfigureAwait(false);
                if (result.IsCanceled)
                {
                    break;
                }

                if (burst && CoalescesSends && result.Buffer.Length < CoalesceBelow && !result.IsCompleted)
                {
                    // Frames were already waiting, so writers are producing as fast as we send:
                    // give them the core once and send what they add in the same system call.
                    reader.AdvanceTo(result.Buffer.Start);
                    Thread.Yield();
                    // The frames left unconsumed are still there, so this read succeeds; were it not
                    // to, the loop reads again rather than ending the connection's sending.
                    if (!reader.TryRead(out result))
                    {
                        continue;
                    }

                    if (result.IsCanceled)
                    {
                        break;
                    }
                }

                var buffer = result.Buffer;
                foreach (var segment in buffer)
                {
                    await SendAsync(segment).ConfigureAwait(false);
                    Backlog.Sent(segment.Length);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (IsConnectionEnd(ex))
        {
            // Writers see this on their next flush; the protocol expects an IOException for a dead
            // medium (a socket's "broken pipe" is a SocketException, which escaped shutdown once).
            error = ex as IOException ?? new IOException("The connection was reset by the peer.", ex);
        }
        finally
        {
            Backlog.Close();
            await reader.CompleteAsync(error).ConfigureAwait(false);
            if (!Volatile.Read(ref _closed))
            {
                try
                {
                    // The peer learns of a graceful end by end-of-stream, not by a reset.
                    ShutdownSend();
                }
                catch (Exception ex) when (IsConnectionEnd(ex))
                {
                    // Already gone; the receive loop reports how.
                }
            }
        }
    }
}

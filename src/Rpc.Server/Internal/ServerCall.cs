using System.Diagnostics;
using Grpc.Core;
using Rpc.Transports.Compression;
using Rpc.Transports.Diagnostics;
using Rpc.Transports.Internal;
using Rpc.Transports.Messages;
using Rpc.Transports.Protocol;

namespace Rpc.Server.Internal;

/// <summary>
/// One RPC on the server, whatever its message types: deadline, cancellation, response headers and
/// the single place where a handler's outcome becomes a status (<see cref="ProcessHandlerError"/>).
/// </summary>
// The token source has no timer or wait handle, and a reset may still cancel it from the thread
// pool after the call ends: it is left to the GC on purpose.
#pragma warning disable CA1001
internal abstract class ServerCall : IThreadPoolWorkItem, IStreamObserver
{
    private const string HandlerThrew = "Exception was thrown by handler.";

    // Made only when the handler asks for its token; most unary handlers never do.
    private CancellationTokenSource? _cancellation;
    private bool _cancelRequested;
    // Made only when shutdown asks for it while the call runs.
    private TaskCompletionSource? _done;
    private bool _finished;
    private readonly object _lock;
    private readonly TimeSpan? _timeout;
    private readonly DateTime _deadline;
    private ITimer? _deadlineTimer;
    private Task? _deadlineTrailers;
    private bool _deadlineExceeded;
    private bool _headersSent;
    private int _completed;
    // Spans and metrics (Rpc.Server); empty unless a listener is attached. The final status is the
    // first one decided (trailers, an abort, the client's reset); read once the handler has ended.
    private CallMeasures _measures;
    private Status? _finalStatus;
    // The server's encodings, and the one this call's responses use (null: identity): fixed when
    // the call starts, from the client's grpc-accept-encoding.
    private readonly ServerCompression _compression;
    private readonly Grpc.Net.Compression.ICompressionProvider? _responseCompression;

    protected ServerCall(ServerCallEnvironment environment, CallStream stream, CallStart start)
    {
        Environment = environment;
        Stream = stream;
        _lock = stream.SyncRoot;
        _deadline = DateTime.MaxValue;
        if (start.TimeoutMicroseconds != CallStart.NoTimeout)
        {
            var now = DateTime.UtcNow;
            _timeout = DeadlineTimer.ToTimeout(start.TimeoutMicroseconds, now);
            _deadline = _timeout is { } timeout ? now + timeout : DateTime.MaxValue;
        }

        Context = new RpcServerCallContext(this, start.Method, stream.Connection, _deadline, start.Headers);
        _compression = ServerCompression.For(environment.Options);
        _responseCompression = _compression.ResponseHeaders is null ? null : _compression.ResponseProviderFor(start.Headers);
        stream.Observer = this;
    }

    protected ServerCallEnvironment Environment { get; }

    protected CallStream Stream { get; }

    protected RpcServerCallContext Context { get; }

    /// <summary>Fires when the client cancels or goes away, the deadline passes, or shutdown gives up waiting.</summary>
    public CancellationToken CallCancelled
    {
        get
        {
            lock (_lock)
            {
                if (_cancellation is null)
                {
                    _cancellation = new CancellationTokenSource();
                    if (_cancelRequested)
                    {
                        _cancellation.Cancel();
                    }
                }

                return _cancellation.Token;
            }
        }
    }

    private bool IsCancellationRequested
    {
        get
        {
            lock (_lock)
            {
                return _cancelRequested;
            }
        }
    }

    /// <summary>Completes when the handler has returned and the call's outcome is sent.</summary>
    public Task Completion
    {
        get
        {
            lock (_lock)
            {
                return _finished ? Task.CompletedTask : (_done ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }
    }

    public void Execute() => _ = RunAsync();

    /// <summary>Ends the call from the server's side, as shutdown does after its grace period.</summary>
    public async Task AbortAsync(Status status)
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            SetFinalStatus(status);
            await Stream.ResetAsync(status).ConfigureAwait(false);
            CancelCall();
        }
    }

    // Tracked by the connection when it accepts the call, before it is queued, so that shutdown
    // waits for calls that are accepted but not yet running; untracked here when it ends.
    private async Task RunAsync()
    {
        var instruments = RpcInstruments.Server;
        var parent = instruments.Source.HasListeners() ? RpcInstruments.Extract(Context.RequestHeaders) : default;
        instruments.Begin(ref _measures, Context.Method, ActivityKind.Server, parent, TransportOf(Context.Peer), serverAddress: null, Environment.Logger);
        try
        {
            if (_timeout is { } timeout)
            {
                _deadlineTimer = TimeProvider.System.CreateTimer(static state => ((ServerCall)state!).OnDeadline(), this, LongTimer.DueTime(timeout), Timeout.InfiniteTimeSpan);
            }

            try
            {
                await RunHandlerAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                var status = ProcessHandlerError(ex);
                await TryCompleteAsync(new OutgoingFrames { TrailersStatus = status, Trailers = Context.ResponseTrailersIfAny }).ConfigureAwait(false);
            }
        }
        finally
        {
            _deadlineTimer?.Dispose();
            if (_deadlineTrailers is { } deadlineTrailers)
            {
                await deadlineTrailers.ConfigureAwait(false);
            }

            Environment.Untrack(this);
            Stream.ReleaseSlot();
            var final = ReadFinalStatus() ?? new Status(StatusCode.Unknown, "The call ended without a status.");
            instruments.End(ref _measures, Context.Method, final.StatusCode, final.Detail, Environment.Logger);
            TaskCompletionSource? done;
            lock (_lock)
            {
                _finished = true;
                done = _done;
            }

            done?.TrySetResult();
        }
    }

    protected abstract Task RunHandlerAsync();

    /// <summary>Counts a message for the call's metrics (sizes and counts per call).</summary>
    protected void CountMessage(bool request, int bytes) => _measures.Sent(request, bytes);

    private Status? ReadFinalStatus()
    {
        lock (_lock)
        {
            return _finalStatus;
        }
    }

    private void SetFinalStatus(Status status)
    {
        lock (_lock)
        {
            _finalStatus ??= status;
        }
    }

    /// <summary>The transport a peer string names (<c>unix:pid=…</c>, <c>ipv4:…</c>): its scheme, tcp for IP.</summary>
    private static string? TransportOf(string peer)
    {
        var colon = peer.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            return null;
        }

        var prefix = peer.AsSpan(0, colon);
        return prefix switch
        {
            "ipv4" or "ipv6" => "tcp",
            "unix" => "unix",
            "shm" => "shm",
            "pipe" => "pipe",
            "inproc" => "inproc",
            _ => null,
        };
    }

    /// <summary>Sends the call's last frames once; later attempts (after a deadline or a reset) do nothing.</summary>
    protected async Task TryCompleteAsync(OutgoingFrames frames)
    {
        if (Interlocked.Exchange(ref _completed, 1) == 1)
        {
            return;
        }

        if (frames.TrailersStatus is { } status)
        {
            SetFinalStatus(status);
        }

        if (frames.HasMessage)
        {
            AddHeadersIfUnsent(ref frames);
        }

        try
        {
            await Stream.SendAsync(frames).ConfigureAwait(false);
        }
        catch (StreamResetException)
        {
            // The client cancelled or went away; nobody is left to tell.
        }
    }

    /// <summary>A request as the marshaller needs it: decompressed in the call's grpc-encoding, within the receive limit.</summary>
    protected IncomingMessage Decompress(IncomingMessage message) =>
        message.Compressed ? _compression.Decompress(message, GrpcEncoding.Find(Context.RequestHeaders, GrpcEncoding.EncodingHeader), Environment.Options.MaxReceiveMessageSize) : message;

    /// <summary>A response compressed in the call's encoding unless the handler's write options say NoCompress; releases what it replaces.</summary>
    protected SerializedMessage CompressResponse(SerializedMessage serialized, out bool compressed)
    {
        compressed = _responseCompression is not null && ServerCompression.CanCompress(Context.WriteOptions);
        return compressed ? _compression.Compress(serialized, _responseCompression!) : serialized;
    }

    /// <summary>Sends one response message, with the response headers in front if they are still unsent.</summary>
    protected async Task SendMessageAsync(ReadOnlyMemory<byte> payload, bool compressed)
    {
        var frames = OutgoingFrames.ForMessage(payload);
        frames.MessageCompressed = compressed;
        AddHeadersIfUnsent(ref frames);
        try
        {
            // No token: a reset of the stream fails a write waiting for window by itself.
            await Stream.SendAsync(frames).ConfigureAwait(false);
        }
        catch (StreamResetException ex)
        {
            throw new RpcException(ex.Status);
        }
    }

    public async Task WriteResponseHeadersAsync(Metadata headers)
    {
        lock (_lock)
        {
            if (_headersSent)
            {
                throw new InvalidOperationException("Response headers can only be sent once per call.");
            }

            _headersSent = true;
        }

        try
        {
            await Stream.SendAsync(new OutgoingFrames { SendHeaders = true, Headers = WithResponseEncoding(headers) }).ConfigureAwait(false);
        }
        catch (StreamResetException ex)
        {
            throw new RpcException(ex.Status);
        }
    }

    private void AddHeadersIfUnsent(ref OutgoingFrames frames)
    {
        // Once sent they stay sent: a streaming handler's later messages skip the lock.
        if (Volatile.Read(ref _headersSent))
        {
            return;
        }

        lock (_lock)
        {
            if (!_headersSent)
            {
                _headersSent = true;
                frames.SendHeaders = true;
                frames.Headers ??= _responseCompression is null ? null : _compression.ResponseHeaders;
            }
        }
    }

    /// <summary>The handler's response headers, plus <c>grpc-encoding</c> when this call's responses are compressed (a copy: the handler's list is its own).</summary>
    private Metadata WithResponseEncoding(Metadata headers)
    {
        if (_responseCompression is null)
        {
            return headers;
        }

        var sent = new Metadata();
        foreach (var entry in headers)
        {
            if (entry.Key != GrpcEncoding.EncodingHeader)
            {
                sent.Add(entry);
            }
        }

        sent.Add(GrpcEncoding.EncodingHeader, _responseCompression.EncodingName);
        return sent;
    }

    /// <summary>The status a handler's exception stands for; unexpected ones are logged and hidden.</summary>
    private Status ProcessHandlerError(Exception ex)
    {
        switch (ex)
        {
            case RpcException rpc:
                foreach (var entry in rpc.Trailers)
                {
                    Context.ResponseTrailers.Add(entry);
                }

                return rpc.Status;
            case StreamResetException reset:
                return reset.Status;
            case OperationCanceledException when IsCancellationRequested:
                return _deadlineExceeded
                    ? new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded")
                    : new Status(StatusCode.Cancelled, "Call canceled by the client.");
            default:
                ServerLog.HandlerError(Environment.Logger, Context.Method, ex);
                var detail = Environment.Options.EnableDetailedErrors ? $"{HandlerThrew} {ex.GetType().Name}: {ex.Message}" : HandlerThrew;
                return new Status(StatusCode.Unknown, detail, Environment.Options.EnableDetailedErrors ? ex : null);
        }
    }

    private void OnDeadline()
    {
        // Timers cannot wait longer than about 49.7 days: a later deadline re-arms until it is due.
        if (LongTimer.TryRearm(Volatile.Read(ref _deadlineTimer), _deadline))
        {
            return;
        }

        _deadlineExceeded = true;
        _deadlineTrailers = OnDeadlineAsync();
    }

    private async Task OnDeadlineAsync()
    {
        await TryCompleteAsync(new OutgoingFrames { TrailersStatus = new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded") }).ConfigureAwait(false);
        CancelCall();
    }

    /// <summary>Fires the handler's token, if it has one yet; a token made later starts out cancelled.</summary>
    private void CancelCall()
    {
        CancellationTokenSource? cancellation;
        lock (_lock)
        {
            _cancelRequested = true;
            cancellation = _cancellation;
        }

        cancellation?.Cancel();
    }

    /// <summary>The client cancelled, or its connection died; runs on the read loop, so the token fires elsewhere.</summary>
    void IStreamObserver.OnReset(Status status)
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            SetFinalStatus(status);
        }

        lock (_lock)
        {
            // Seen at once by a handler that asks for its token only now; one that holds it already
            // sees it fire from the thread pool, so user callbacks never run on the read loop.
            _cancelRequested = true;
        }

        ThreadPool.UnsafeQueueUserWorkItem(static call => call.CancelCall(), this, preferLocal: false);
    }
}
#pragma warning restore CA1001

using System.Diagnostics;
using Grpc.Core;
using Rpc.Transports.Diagnostics;
using Rpc.Transports.Internal;
using Rpc.Transports.Messages;
using Rpc.Transports.Protocol;

namespace Rpc.Client.Internal;

/// <summary>
/// One RPC on the client: starts the stream, reads and writes messages, and owns the call's final
/// status. Every failure becomes a <see cref="Status"/> in <see cref="ResolveStatus"/> and nowhere else.
/// </summary>
internal sealed class ClientCall<TRequest, TResponse> : IClientStreamWriter<TRequest>, IAsyncStreamReader<TResponse>, IClientCall
    where TRequest : class
    where TResponse : class
{
    private const string CanceledByClient = "Call canceled by the client.";
    private const string DeadlineExceeded = "Deadline Exceeded";
    private static readonly Task<bool> s_true = Task.FromResult(true);
    private static readonly Task<bool> s_false = Task.FromResult(false);

    private readonly ConnectionManager _connections;
    private readonly RpcChannelOptions _channelOptions;
    private readonly Method<TRequest, TResponse> _method;
    private readonly CallOptions _options;
    // The call object itself (a monitor): no lock object per call. Nothing outside the call can
    // reach it to lock on.
    private readonly object _lock;

    private CancellationTokenRegistration _userCancellation;
    private ITimer? _deadlineTimer;
    private DateTime _deadline;
    // Fires when the call ends from this side (deadline, token, dispose), for the waits that take a
    // token: connecting and the protocol's wait for a stream. Made only when such a wait may
    // happen; cancelled under _lock by whoever finishes the call. It holds no timer or wait
    // handle, so it is left to the GC.
    private CancellationTokenSource? _callCancellation;
    private bool _deadlinePassed;
    private Task _started = Task.CompletedTask;
    private CallStream? _stream;
    private Task? _cancelSent;
    private Status? _status;
    private Metadata? _trailers;
    private bool _refused;
    private bool _writePending;
    private bool _writesCompleted;
    // Spans and metrics (Rpc.Client); empty unless a listener is attached.
    private CallMeasures _measures;
    // The channel's call credentials, read when the call starts (null: none, the usual case).
    // The channel's encodings, and the one requests are compressed with (null: identity); set
    // before the call start is sent, read by writes after it.
    private ClientCompression? _compression;
    private Grpc.Net.Compression.ICompressionProvider? _requestCompression;

    public ClientCall(ConnectionManager connections, RpcChannelOptions channelOptions, Method<TRequest, TResponse> method, CallOptions options)
    {
        _lock = this;
        _connections = connections;
        _channelOptions = channelOptions;
        _method = method;
        _options = options;
    }

    public TResponse Current { get; private set; } = null!;

    /// <summary>
    /// A blocking stub's call, whose caller's thread waits for the response: its stream resumes
    /// the response read on the read loop, so completing the call wakes the caller directly.
    /// </summary>
    public bool Blocking { get; init; }

    public WriteOptions? WriteOptions { get; set; }

    /// <summary>Starts the call; with a <paramref name="request"/> it is the only one and the stream half-closes.</summary>
    public void Start(TRequest? request)
    {
        RpcInstruments.Client.Begin(ref _measures, _method.FullName, ActivityKind.Client, default, _connections.Address.Scheme, _connections.Address, _connections.Logger);
        var timeout = CallStart.NoTimeout;
        if (_options.Deadline is { } deadline && deadline != DateTime.MaxValue)
        {
            var remaining = deadline.ToUniversalTime() - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                _deadlinePassed = true;
                TryFinish(new Status(StatusCode.DeadlineExceeded, DeadlineExceeded), null);
                _started = Task.FromException(new RpcException(_status!.Value));
                return;
            }

            timeout = (long)Math.Ceiling(remaining.TotalMicroseconds);
            _deadline = deadline.ToUniversalTime();
            _deadlineTimer = TimeProvider.System.CreateTimer(static state => ((ClientCall<TRequest, TResponse>)state!).OnDeadline(), this, LongTimer.DueTime(remaining), Timeout.InfiniteTimeSpan);
        }

        if (_options.CancellationToken.CanBeCanceled)
        {
            _userCancellation = _options.CancellationToken.UnsafeRegister(static state => ((ClientCall<TRequest, TResponse>)state!).Cancel(CanceledByClient), this);
        }

        _started = StartAsync(request, timeout);
    }

    private async Task StartAsync(TRequest? request, long timeoutMicroseconds)
    {
        SerializedMessage serialized = default;
        try
        {
            var headers = _options.Headers;
            if (_options.Credentials is not null || _connections.ChannelCallCredentials is not null)
            {
                headers = await CallSecurity.AddCredentialsAsync(_connections.Address, _channelOptions, _method, _options.Credentials, _connections.ChannelCallCredentials, headers, CallToken).ConfigureAwait(false);
            }

            _compression = ClientCompression.For(_channelOptions);
            headers = _compression.PrepareHeaders(headers, _channelOptions.RequestCompressionAlgorithm, out _requestCompression);

            var frames = new OutgoingFrames
            {
                Method = _method.FullName,
                TimeoutMicroseconds = timeoutMicroseconds,
                Headers = _measures.Activity is { } activity ? RpcInstruments.Inject(headers, activity)
                    : Activity.Current is { } ambient ? RpcInstruments.Inject(headers, ambient)
                    : headers,
            };
            // The usual case, a connection ready: a large request is serialized straight into one
            // of its mapped regions. Otherwise it goes into an array and waits for the connection.
            var ready = _connections.TryGetCurrent(out var current) ? current : null;
            if (request is not null)
            {
                serialized = MessageSerializer.Serialize(_method.RequestMarshaller, request, _channelOptions.MaxSendMessageSize, "client", "RpcChannelOptions.MaxSendMessageSize", ready?.OutgoingRegions);
                _measures.Sent(request: true, serialized.Payload.Length);
                if (_requestCompression is { } provider && ClientCompression.CanCompress(_options.WriteOptions))
                {
                    serialized = ClientCompression.Compress(serialized, provider);
                    frames.MessageCompressed = true;
                }

                frames.Message = serialized.Payload;
                frames.HasMessage = true;
                frames.EndStream = true;
            }

            // Serializing took time: the connection may have gone meanwhile.
            var connection = ready is { AcceptsNewCalls: true } ? ready : null;
            if (connection is null)
            {
                // The deadline and the token bound the wait for a connection too; the attempt
                // itself goes on for the channel's other calls. Wait-for-ready waits through
                // failed attempts instead of failing Unavailable.
                connection = await _connections.GetConnectionAsync(CallToken, _options.IsWaitForReady).ConfigureAwait(false);
            }

            var stream = connection.CreateStream();
            if (Blocking)
            {
                // Before the stream is published to the read loop, which then reads the flag.
                stream.RunContinuationsInline();
            }

            lock (_lock)
            {
                if (_status is not null)
                {
                    // Cancelled or timed out while connecting; the status says which.
                    throw new OperationCanceledException();
                }

                _stream = stream;
            }

            await stream.SendAsync(frames, StartToken).ConfigureAwait(false);
            if (request is not null)
            {
                _writesCompleted = true;
            }
        }
        catch (Exception ex)
        {
            throw await FailAsync(ex).ConfigureAwait(false);
        }
        finally
        {
            serialized.Release();
        }
    }

    // Reads and writes pass no token: cancelling the call resets its stream, which wakes any
    // pending read or window wait. Only the waits before the stream exists take CallToken.

    /// <summary>A token that fires when the call ends from this side; cancelled already if it has ended.</summary>
    private CancellationToken CallToken
    {
        get
        {
            lock (_lock)
            {
                if (_status is not null)
                {
                    return new CancellationToken(canceled: true);
                }

                _callCancellation ??= new CancellationTokenSource();
                return _callCancellation.Token;
            }
        }
    }

    /// <summary>
    /// The token for sending the call start, which may wait for a free stream. A call that has no
    /// deadline and no token can end early only by being disposed, which resets its stream and
    /// so ends that wait: it skips making a token source.
    /// </summary>
    private CancellationToken StartToken =>
        _deadlineTimer is not null || _options.CancellationToken.CanBeCanceled ? CallToken : CancellationToken.None;

    /// <summary>The single response of a unary or client-streaming call.</summary>
    public async Task<TResponse> GetResponseAsync()
    {
        try
        {
            await _started.ConfigureAwait(false);
            var stream = _stream!;
            var message = await stream.ReadMessageAsync(CancellationToken.None).ConfigureAwait(false);
            TResponse? response = null;
            if (message is { } received)
            {
                _measures.Sent(request: false, received.Length);
                response = MessageDeserializer.Deserialize(_method.ResponseMarshaller, _compression!.Decompress(received, stream, _channelOptions.MaxReceiveMessageSize));
                if (await stream.ReadMessageAsync(CancellationToken.None).ConfigureAwait(false) is { } extra)
                {
                    extra.Release();
                    throw new RpcException(new Status(StatusCode.Internal, "The server sent more than one response to a unary call."));
                }
            }

            var status = FinishFromTrailers(stream);
            if (status.StatusCode != StatusCode.OK)
            {
                throw new RpcException(status, _trailers!);
            }

            return response ?? throw new RpcException(new Status(StatusCode.Internal, "Failed to deserialize response message."));
        }
        catch (Exception ex)
        {
            throw await FailAsync(ex).ConfigureAwait(false);
        }
    }

    public Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        if (!_started.IsCompletedSuccessfully || _stream is not { } stream || NeedsRegistration(cancellationToken))
        {
            return MoveNextAsync(cancellationToken);
        }

        // A response already queued, the common case while a stream flows, costs no state machine.
        // The read is consumed once: by its result when it completed here, else by the one await
        // below (a pooled read's result may not be taken twice).
#pragma warning disable CA2012
        var reading = stream.ReadMessageAsync(CancellationToken.None);
        if (!reading.IsCompletedSuccessfully)
        {
            return ContinueMoveNextAsync(stream, reading);
        }
#pragma warning restore CA2012

        var read = reading.Result;
        try
        {
            return TakeResponse(stream, read) ? s_true : s_false;
        }
        catch (Exception ex)
        {
            return FailMoveNextAsync(ex);
        }
    }

    private async Task<bool> MoveNextAsync(CancellationToken cancellationToken)
    {
        using var registration = RegisterUnlessTheCalls(cancellationToken);
        try
        {
            await _started.ConfigureAwait(false);
            var stream = _stream!;
            return TakeResponse(stream, await stream.ReadMessageAsync(CancellationToken.None).ConfigureAwait(false));
        }
        catch (Exception ex)
        {
            throw await FailAsync(ex).ConfigureAwait(false);
        }
    }

    private async Task<bool> ContinueMoveNextAsync(CallStream stream, ValueTask<IncomingMessage?> reading)
    {
        try
        {
            return TakeResponse(stream, await reading.ConfigureAwait(false));
        }
        catch (Exception ex)
        {
            throw await FailAsync(ex).ConfigureAwait(false);
        }
    }

    private async Task<bool> FailMoveNextAsync(Exception ex) => throw await FailAsync(ex).ConfigureAwait(false);

    /// <summary>True with <see cref="Current"/> set to the response read; false, or the call's failure, once the stream has ended.</summary>
    private bool TakeResponse(CallStream stream, IncomingMessage? read)
    {
        if (read is { } message)
        {
            _measures.Sent(request: false, message.Length);
            Current = MessageDeserializer.Deserialize(_method.ResponseMarshaller, _compression!.Decompress(message, stream, _channelOptions.MaxReceiveMessageSize));
            return true;
        }

        var status = FinishFromTrailers(stream);
        return status.StatusCode == StatusCode.OK ? false : throw new RpcException(status, _trailers!);
    }

    private bool NeedsRegistration(CancellationToken cancellationToken) =>
        cancellationToken.CanBeCanceled && cancellationToken != _options.CancellationToken;

    /// <summary>
    /// Cancels the call when <paramref name="cancellationToken"/> fires, for one read or write. The
    /// call's own token is registered for the call's life already: registering it again for every
    /// message (as a stream read with it does) cost a registration and an unregistration each.
    /// </summary>
    private CancellationTokenRegistration RegisterUnlessTheCalls(CancellationToken cancellationToken) =>
        NeedsRegistration(cancellationToken)
            ? cancellationToken.UnsafeRegister(static state => ((ClientCall<TRequest, TResponse>)state!).Cancel(CanceledByClient), this)
            : default;

    public Task WriteAsync(TRequest message) => WriteAsync(message, CancellationToken.None);

    public async Task WriteAsync(TRequest message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        lock (_lock)
        {
            if (_writesCompleted)
            {
                throw new InvalidOperationException("Request stream has already been completed.");
            }

            if (_writePending)
            {
                throw new InvalidOperationException("Can't write the message because the previous write is in progress.");
            }

            _writePending = true;
        }

        using var registration = RegisterUnlessTheCalls(cancellationToken);
        SerializedMessage serialized = default;
        try
        {
            await _started.ConfigureAwait(false);
            ThrowIfComplete();
            serialized = MessageSerializer.Serialize(_method.RequestMarshaller, message, _channelOptions.MaxSendMessageSize, "client", "RpcChannelOptions.MaxSendMessageSize", _stream!.OutgoingRegions);
            _measures.Sent(request: true, serialized.Payload.Length);
            var compress = _requestCompression is not null && ClientCompression.CanCompress(WriteOptions ?? _options.WriteOptions);
            if (compress)
            {
                serialized = ClientCompression.Compress(serialized, _requestCompression!);
            }

            var frames = OutgoingFrames.ForMessage(serialized.Payload);
            frames.MessageCompressed = compress;
            await _stream!.SendAsync(frames, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not InvalidOperationException)
        {
            throw await FailAsync(ex).ConfigureAwait(false);
        }
        finally
        {
            serialized.Release();
            lock (_lock)
            {
                _writePending = false;
            }
        }
    }

    public async Task CompleteAsync()
    {
        lock (_lock)
        {
            if (_writesCompleted)
            {
                return;
            }

            _writesCompleted = true;
        }

        try
        {
            await _started.ConfigureAwait(false);
            if (_status is null)
            {
                await _stream!.SendAsync(new OutgoingFrames { EndStream = true }, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (StreamResetException)
        {
            // The call ended before the client finished sending; its status tells how.
        }
        catch (Exception ex)
        {
            throw await FailAsync(ex).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The response headers. When the call started at once (the connection was up) this is the
    /// stream's own task, so a call that never asks for its headers pays nothing for them.
    /// </summary>
    public Task<Metadata> ResponseHeadersTask =>
        _started.IsCompletedSuccessfully && _stream is { } stream ? stream.ResponseHeaders : GetResponseHeadersAsync();

    private async Task<Metadata> GetResponseHeadersAsync()
    {
        try
        {
            await _started.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            throw await FailAsync(ex).ConfigureAwait(false);
        }

        return await _stream!.ResponseHeaders.ConfigureAwait(false);
    }

    /// <summary>
    /// Whether the call failed before the server could see it: its start never went out (the
    /// connection closed or took no new calls first) or the server's GOAWAY named a last stream
    /// below it. Such a call may be sent again on another connection without running twice.
    /// </summary>
    public bool Refused
    {
        get
        {
            lock (_lock)
            {
                return _refused;
            }
        }
    }

    /// <summary>The end the server sent, once the stream has it, even before the call's reader took it.</summary>
    public TrailersPayload? ServerTrailers => _stream?.Trailers;

    public Status GetStatus() => _status ?? throw new InvalidOperationException("Unable to get the status because the call is not complete.");

    public Metadata GetTrailers() => _trailers ?? throw new InvalidOperationException("Can't get the trailers because the call has not completed.");

    public void Dispose()
    {
        Cancel("gRPC call disposed.");
        _userCancellation.Unregister();
        _deadlineTimer?.Dispose();
    }

    private void ThrowIfComplete()
    {
        if (_status is { } status)
        {
            throw status.StatusCode == StatusCode.OK
                ? new InvalidOperationException("Can't write the message because the call is complete.")
                : new RpcException(status, _trailers!);
        }
    }

    private void OnDeadline()
    {
        // Timers cannot wait longer than about 49.7 days: a later deadline re-arms until it is due.
        if (LongTimer.TryRearm(Volatile.Read(ref _deadlineTimer), _deadline))
        {
            return;
        }

        _deadlinePassed = true;
        Cancel(DeadlineExceeded);
    }

    /// <summary>Ends the call from this side and tells the server, unless it has ended already.</summary>
    private void Cancel(string detail)
    {
        var status = new Status(_deadlinePassed ? StatusCode.DeadlineExceeded : StatusCode.Cancelled, _deadlinePassed ? DeadlineExceeded : detail);
        CallStream? stream;
        CancellationTokenSource? callCancellation;
        lock (_lock)
        {
            if (!TryFinish(status, null))
            {
                return;
            }

            stream = _stream;
            callCancellation = _callCancellation;
        }

        // Outside the lock: the token's callbacks (a wait for a connection or a stream) run here.
        callCancellation?.Cancel();
        if (stream is not null)
        {
            _cancelSent = stream.ResetAsync(status).AsTask();
        }
    }

    private Status FinishFromTrailers(CallStream stream)
    {
        var ending = stream.Trailers;
        if (ending is { } trailers)
        {
            TryFinish(trailers.Status, trailers.Trailers);
        }
        else
        {
            TryFinish(new Status(StatusCode.Internal, "The server ended the call without a status."), null);
        }

        return _status!.Value;
    }

    /// <summary>Records the final status once; later outcomes lose to the first.</summary>
    private bool TryFinish(Status status, Metadata? trailers, bool refused = false)
    {
        lock (_lock)
        {
            if (_status is not null)
            {
                return false;
            }

            _refused = refused;
            _status = status;
            _trailers = trailers ?? Metadata.Empty;
        }

        RpcInstruments.Client.End(ref _measures, _method.FullName, status.StatusCode, status.Detail, _connections.Logger);
        _deadlineTimer?.Dispose();
        // Unregister, not Dispose: Dispose waits for a callback running on another thread, and that
        // callback may be waiting for the lock our caller holds (one token cancelling both the call
        // and a MoveNext deadlocked exactly so).
        _userCancellation.Unregister();
        return true;
    }

    private async ValueTask<RpcException> FailAsync(Exception ex)
    {
        var stream = _stream;
        var trailers = stream?.Trailers?.Trailers;
        var refused = ex is StreamResetException { Status.StatusCode: StatusCode.Unavailable } reset
            && (stream is null || stream.Id == 0 || Retries.Refusals.IsGoAwayRefusal(reset.Status));
        if (TryFinish(ResolveStatus(ex), trailers, refused) && stream is not null && !stream.IsClosed)
        {
            // The call failed on this side (a bad message, a marshaller error): the server must stop too.
            await stream.ResetAsync(_status!.Value).ConfigureAwait(false);
        }

        if (_cancelSent is { } cancelSent)
        {
            await cancelSent.ConfigureAwait(false);
        }

        return ex is RpcException rpc && rpc.Status.Equals(_status!.Value) ? rpc : new RpcException(_status!.Value, _trailers!);
    }

    private Status ResolveStatus(Exception ex) => ex switch
    {
        _ when _status is { } finished => finished,
        RpcException rpc => rpc.Status,
        StreamResetException reset => reset.Status,
        OperationCanceledException => new Status(StatusCode.Cancelled, CanceledByClient),
        ObjectDisposedException => new Status(StatusCode.Unavailable, $"The channel to '{_connections.Address}' has been disposed.", ex),
        IOException => new Status(StatusCode.Unavailable, "The connection failed: " + ex.Message, ex),
        _ => new Status(StatusCode.Internal, $"Error in gRPC call. {ex.GetType().Name}: {ex.Message}", ex),
    };
}

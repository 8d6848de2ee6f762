using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Rpc.Transports.Diagnostics;

namespace Rpc.Transports.Protocol;

/// <summary>
/// The protocol over one transport connection: handshake, a read loop that routes frames to call
/// streams, serialized writes, GOAWAY and shutdown. Client and server share it; only who starts
/// streams differs.
/// </summary>
internal sealed partial class MultiplexedConnection : IAsyncDisposable
{
    /// <summary>
    /// Frame bytes the read loop parses before the readers they woke run (on a medium whose read
    /// yields to them): a stream's queue stays short, its pooled buffers come back to be rented
    /// again, and what the reader touches is still in cache.
    /// </summary>
    private const long ParseBatchBytes = 32 * 1024;

    private readonly ITransportConnection _transport;
    // The transport as our own connection class, when it is one (in-memory test transports are not).
    private readonly Internal.TransportConnection? _medium;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly WriteLock _writeLock = new();
    // Read loop only: the stream the last frame was for (FindStream).
    private CallStream? _lastFound;
    private readonly StreamTable _streams = new();
    private readonly ICallAcceptor? _acceptor;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource> _pings = new();
    private readonly AssemblySweeper _assemblies = new();

    private readonly Internal.IDescriptorChannel? _descriptors;
    private Task? _readLoop;
    private StreamSlots? _slots;
    private uint _nextStreamId = 1;
    private uint _highestStreamId;
    private bool _outputClosed;
    private int _closing;
    private int _state;
    private int _counted;
    private int _pendingControlReplies;
    private uint? _goAwaySentAt;
    // The read loop's accept decision and GOAWAY's last stream id, taken together.
    private readonly Lock _acceptLock = new();
    private volatile bool _goAwayReceived;
    private string? _goAwayDetail;
    private long _nextPing;
    private readonly ResetBudget _resets;
    private readonly TimeSpan _idleTimeout;
    private readonly TimeSpan _keepAliveDelay;
    private readonly TimeSpan _keepAliveTimeout;
    private readonly TimeProvider _timeProvider;
    // The idle check: a timer thread reads these; streams starting (read loop or writers) bump the count.
    private ITimer? _idleTimer;
    private long _streamsStarted;
    private long _streamsStartedAtLastTick = -1;

    public MultiplexedConnection(ITransportConnection transport, ConnectionOptions options, ICallAcceptor? acceptor, ILogger logger)
    {
        _transport = transport;
        _input = transport.Transport.Input;
        _output = transport.Transport.Output;
        _acceptor = acceptor;
        _logger = logger;
        LocalSettings = options.Settings;
        if (Mapping.RegionNative.IsSupported && options.MappedPayloadLimit > 0
            && transport is Internal.IDescriptorChannel { MappedPayloadThreshold: < int.MaxValue } descriptors)
        {
            _descriptors = descriptors;
            LocalSettings = LocalSettings with { MappedPayloadLimit = options.MappedPayloadLimit };
        }

        MaxReceiveMessageSize = options.MaxReceiveMessageSize;
        HandshakeTimeout = options.HandshakeTimeout;
        DrainTimeout = options.DrainTimeout;
        MaxPendingControlReplies = options.MaxPendingControlReplies;
        InlineContinuations = options.InlineContinuations;
        _medium = transport as Internal.TransportConnection;
        if (_medium is { } medium)
        {
            medium.DrainTimeout = options.DrainTimeout;
            if (options.InlineContinuations)
            {
                // The last hand-off of an inline connection: the send loop runs on the flushing
                // thread (the handler or reader already on the read loop), not a woken pool thread.
                medium.PreferInlineSends();
            }

            medium.Backlog.HighWaterMark = options.OutputHighWaterMark;
            Backlog = medium.Backlog;
        }
        AssemblyPool = options.AssemblyPool;
        _resets = new ResetBudget(options.ResetBurst, options.ResetsPerSecond, options.TimeProvider);
        _idleTimeout = options.IdleTimeout;
        _keepAliveDelay = options.KeepAlivePingDelay;
        _keepAliveTimeout = options.KeepAlivePingTimeout;
        _timeProvider = options.TimeProvider;
        PeerSettings = new ConnectionSettings();
        // The send side opens when the peer's SETTINGS name its size.
        Window = new ConnectionWindow(LocalSettings.ConnectionWindowSize, peerSize: 0) { Connection = this };
    }

    private bool IsClient => _acceptor is null;

    public ConnectionSettings LocalSettings { get; }

    /// <summary>The regions this side sends large messages through; null when the peer maps none.</summary>
    internal Mapping.OutgoingRegions? OutgoingRegions { get; private set; }

    /// <summary>The peer's regions mapped here; null when this side said it maps none.</summary>
    internal Mapping.IncomingRegions? IncomingRegions { get; private set; }

    public ConnectionSettings PeerSettings { get; private set; }

    public int MaxReceiveMessageSize { get; }

    /// <summary>The connection-level flow-control window, both directions.</summary>
    internal ConnectionWindow Window { get; }

    public TimeSpan HandshakeTimeout { get; }

    /// <summary>Whether every stream of this connection resumes its waiters on the read loop (see <see cref="ConnectionOptions.InlineContinuations"/>).</summary>
    internal bool InlineContinuations { get; }

    /// <summary>
    /// Read loop: runs <paramref name="work"/> (a reader's wake-up, a handler's start) on the receive
    /// thread once what arrived is parsed, rather than on the thread pool, when the medium has such
    /// a thread and the caller is on it; false otherwise (see <see cref="Internal.DeferredWork"/>).
    /// </summary>
    internal bool TryDefer(Action<object?> work, object? state) => _medium?.TryDefer(work, state) ?? false;

    public TimeSpan DrainTimeout { get; }

    /// <summary>The transport's unsent output, when it reports it (in-memory test transports do not).</summary>
    internal OutputBacklog? Backlog { get; }

    private int MaxPendingControlReplies { get; }

    /// <summary>Where the connection is in its one close path (see <see cref="ConnectionState"/>).</summary>
    public ConnectionState State => (ConnectionState)Volatile.Read(ref _state);

    /// <summary>Where multi-frame messages are assembled; read loop only.</summary>
    internal ArrayPool<byte> AssemblyPool { get; }

    /// <summary>Read loop only: the streams with a message half assembled.</summary>
    internal AssemblySweeper Assemblies => _assemblies;

    /// <summary>Any thread: a stream closed outside the read loop may hold an assembly to free.</summary>
    internal void RequestAssemblySweep() => _assemblies.RequestSweep();

    public string Peer => _transport.Peer;

    public PeerIdentity? PeerIdentity => _transport.PeerIdentity;

    /// <summary>Completes once the connection is closed, for whatever reason.</summary>
    public Task Closed => _closed.Task;

    /// <summary>Client: false once the connection is closed or the server said it is going away.</summary>
    public bool AcceptsNewCalls => !_closed.Task.IsCompleted && Volatile.Read(ref _closing) == 0 && !_goAwayReceived;

    public int ActiveStreamCount => _streams.Count;

    /// <summary>Whether the stream table was closed: no stream can join it any more.</summary>
    internal bool StreamsClosed => _streams.IsClosed;

    /// <summary>Exchanges prefaces and settings, then starts the read loop.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await WriteAsync(LocalSettings, static (writer, settings) =>
        {
            Preface.Write(writer);
            FrameWriter.WriteSettings(writer, settings);
        }).ConfigureAwait(false);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(HandshakeTimeout);
        try
        {
            PeerSettings = await ReadHandshakeAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // No GOAWAY: a silent peer is most likely not reading either, and bytes it never reads
            // would hold the connection (and a shared-memory receive thread) for the drain timeout.
            throw new ProtocolException($"The peer sent no handshake within {HandshakeTimeout.TotalSeconds:0.#} s.");
        }
        catch (ProtocolException ex)
        {
            // A wrong peer (an HTTP client, another version) is told why before the caller closes:
            // it reads our preface and SETTINGS, then this GOAWAY naming what it sent.
            ConnectionLog.ProtocolError(_logger, Peer, ex.Message);
            await TrySendGoAwayAsync(new Status(StatusCode.Internal, "Handshake refused: " + ex.Message)).ConfigureAwait(false);
            throw;
        }

        Window.Add(PeerSettings.ConnectionWindowSize);
        if (_descriptors is not null)
        {
            IncomingRegions = new Mapping.IncomingRegions(_descriptors, LocalSettings.MappedPayloadLimit, SendRegionRelease);
            if (PeerSettings.MappedPayloadLimit > 0)
            {
                OutgoingRegions = new Mapping.OutgoingRegions(_descriptors, Math.Min(PeerSettings.MappedPayloadLimit, LocalSettings.MappedPayloadLimit), _descriptors.MappedPayloadThreshold);
            }
        }

        // The client queues calls under the server's limit; the server refuses beyond its own.
        _slots = new StreamSlots(IsClient ? PeerSettings.MaxConcurrentStreams : LocalSettings.MaxConcurrentStreams);
        CountOpen();
        _readLoop = ReadLoopAsync();
        if (_idleTimeout != Timeout.InfiniteTimeSpan)
        {
            _idleTimer = _timeProvider.CreateTimer(static state => ((MultiplexedConnection)state!).OnIdleTick(), this, _idleTimeout, _idleTimeout);
        }

        StartKeepAlive(_keepAliveDelay);
    }

    /// <summary>Any thread: this connection's peer exceeded one of this side's limits (the call or frame is refused; the connection goes on).</summary>
    internal void LogLimitHit(string detail) => ConnectionLog.LimitHit(_logger, Peer, detail);

    // Start and close can race (a peer that hangs up at once): whichever of the two sees the other
    // done settles the count, so the gauge returns to zero either way.
    private void CountOpen()
    {
        ConnectionLog.Opened(_logger, Peer, IsClient ? "client" : "server");
        var counter = (IsClient ? RpcInstruments.Client : RpcInstruments.Server).Connections;
        if (counter.Enabled)
        {
            counter.Add(1);
            Volatile.Write(ref _counted, 1);
            if (_closed.Task.IsCompleted)
            {
                CountClosed();
            }
        }
    }

    private void CountClosed()
    {
        if (Interlocked.Exchange(ref _counted, 0) == 1)
        {
            (IsClient ? RpcInstruments.Client : RpcInstruments.Server).Connections.Add(-1);
        }
    }

    /// <summary>
    /// Timer thread, once per <see cref="ConnectionOptions.IdleTimeout"/>: idle means no stream open
    /// now, none at the last tick, and none started between, so the connection was idle a whole period.
    /// </summary>
    private void OnIdleTick()
    {
        var started = Interlocked.Read(ref _streamsStarted);
        var idle = _streams.Count == 0 && SlotsInUse == 0;
        var idleSinceLastTick = idle && started == _streamsStartedAtLastTick;
        _streamsStartedAtLastTick = idle ? started : -1;
        if (!idleSinceLastTick || Volatile.Read(ref _closing) == 1)
        {
            return;
        }

        _idleTimer?.Dispose();
        _ = CloseIdleAsync();
    }

    private async Task CloseIdleAsync()
    {
        await TrySendGoAwayAsync(new Status(StatusCode.Unavailable, $"The connection was idle for {_idleTimeout.TotalSeconds:0.###} s.")).ConfigureAwait(false);
        Close();
    }

    /// <summary>Streams counting against the concurrency limit at this moment.</summary>
    internal int SlotsInUse => _slots?.InUse ?? 0;

    /// <summary>Client: waits for a stream slot under the peer's limit before a call start is written.</summary>
    internal async ValueTask TakeSlotAsync(CallStream stream, CancellationToken cancellationToken)
    {
        if (_slots is not { } slots)
        {
            return;
        }

        bool taken;
        try
        {
            taken = await slots.TakeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The call gave up in the queue: it ends here, and its caller names the status.
            stream.FailUnstarted(new Status(StatusCode.Cancelled, "The call ended while it waited for a free stream."));
            throw;
        }

        if (!taken)
        {
            throw stream.FailUnstarted(new Status(StatusCode.Unavailable, "The connection was closed while the call waited for a free stream."));
        }

        stream.OnSlotTaken();
        if (stream.IsClosed)
        {
            // Reset (deadline, token) while the slot was being taken: its close released nothing,
            // so the slot goes back here; the release is once-only whichever thread gets there first.
            stream.ReleaseSlot();
        }
    }

    /// <summary>Any thread: a stream stopped counting against the limit (once per stream).</summary>
    internal void ReleaseSlot() => _slots?.Release();

    /// <summary>Server: whether its acceptor releases each stream's slot itself once the call is done.</summary>
    internal bool AcceptorReleasesSlots => _acceptor?.ReleasesSlots ?? false;

    /// <summary>Client: a stream for a new call; its id is given when its call start is written.</summary>
    public CallStream CreateStream() => new(this, 0, isClient: true);

    private async Task<ConnectionSettings> ReadHandshakeAsync(CancellationToken cancellationToken)
    {
        var prefaceSeen = false;
        while (true)
        {
            var result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var advanced = false;
            try
            {
                if (!prefaceSeen && buffer.Length >= Preface.Size)
                {
                    Preface.Validate(buffer);
                    buffer = buffer.Slice(Preface.Size);
                    prefaceSeen = true;
                }

                if (prefaceSeen && FrameReader.TryReadFrame(ref buffer, LocalSettings.MaxFrameSize, out var header, out var payload))
                {
                    var settings = header.Type == FrameType.Settings
                        ? ConnectionSettings.Read(payload)
                        : throw new ProtocolException($"Expected SETTINGS after the preface, got {header.Type}.");
                    // Frames behind SETTINGS are not examined yet: the read loop must see them at once.
                    _input.AdvanceTo(buffer.Start);
                    advanced = true;
                    return settings;
                }
            }
            finally
            {
                // Also when the preface or SETTINGS is refused: an input read in place (shared
                // memory) is unmapped only once no buffer of it is held.
                if (!advanced)
                {
                    _input.AdvanceTo(buffer.Start, buffer.End);
                }
            }

            if (result.IsCanceled)
            {
                throw new OperationCanceledException("The connection was closed during the handshake.");
            }

            if (result.IsCompleted)
            {
                throw new ProtocolException("The peer closed the connection during the handshake.");
            }
        }
    }

    private async Task ReadLoopAsync()
    {
        Exception? error = null;
        // Frame bytes parsed before the loop lets the readers they woke run, on a medium whose read
        // yields to them; elsewhere all that arrived (a pipe's read would not yield anyway).
        var parseBatch = _medium?.ReadsYieldToDeferredWork == true ? ParseBatchBytes : long.MaxValue;
        try
        {
            while (true)
            {
                var result = await _input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                MarkRead();
                _assemblies.SweepIfRequested();
                var parsed = 0L;
                var more = false;
                try
                {
                    while (FrameReader.TryReadFrame(ref buffer, LocalSettings.MaxFrameSize, out var header, out var payload))
                    {
                        await ProcessFrameAsync(header, payload).ConfigureAwait(false);
                        parsed += FrameHeader.Size + header.Length;
                        if (parsed >= parseBatch && !buffer.IsEmpty)
                        {
                            // The rest is read again, after the readers this batch woke have run.
                            more = true;
                            break;
                        }
                    }
                }
                finally
                {
                    _input.AdvanceTo(buffer.Start, more ? buffer.Start : buffer.End);
                }

                if (result.IsCanceled)
                {
                    break;
                }

                if (more)
                {
                    continue;
                }

                if (result.IsCompleted)
                {
                    if (!buffer.IsEmpty)
                    {
                        throw new IOException("The peer closed the connection in the middle of a frame.");
                    }

                    break;
                }
            }
        }
        catch (ProtocolException ex)
        {
            error = ex;
            ConnectionLog.ProtocolError(_logger, Peer, ex.Message);
            await TrySendGoAwayAsync(new Status(StatusCode.Internal, "Protocol error: " + ex.Message)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The medium ended under us.
            error = ex;
        }
        catch (Exception ex)
        {
            // Anything else is a bug on this side or a value we failed to check: the connection
            // ends as after a protocol fault, never with an exception out of the loop (which left
            // the transport undisposed behind a faulted task).
            error = new ProtocolException("Internal error while reading: " + ex.Message, ex);
            ConnectionLog.ReadLoopFailed(_logger, Peer, ex);
            await TrySendGoAwayAsync(new Status(StatusCode.Internal, "Internal error while reading from the peer.")).ConfigureAwait(false);
        }
        finally
        {
            // An abort names its reason (a keepalive that went unanswered) to the calls it fails,
            // however the read ended under it.
            await CloseAsync(Volatile.Read(ref _abortReason) ?? error).ConfigureAwait(false);
            _assemblies.ReleaseAll();
            OutgoingRegions?.Dispose();
            IncomingRegions?.Dispose();
        }
    }

    private ValueTask ProcessFrameAsync(FrameHeader header, ReadOnlySequence<byte> payload)
    {
        switch (header.Type)
        {
            case FrameType.Headers:
                return IsClient ? OnResponseHeadersAsync(header, payload) : OnCallStartAsync(header.StreamId, payload);
            case FrameType.Message:
                Window.Spend((int)payload.Length);
                if (FindStream(header) is { } receiving)
                {
                    return receiving.OnMessageFragmentAsync(payload, header.Flags);
                }

                // Bytes for a stream already closed are freed as they arrive, as HTTP/2 does.
                FreeConnectionWindow((int)payload.Length);
                return ValueTask.CompletedTask;
            case FrameType.MessageRef:
                return OnMessageReferenceAsync(header, payload);
            case FrameType.RegionRelease:
                var released = (OutgoingRegions ?? throw new ProtocolException("REGION_RELEASE on a connection that sent no mapped message."))
                    .OnReleased(PayloadCodec.ReadRegionId(payload, FrameType.RegionRelease));
                return released == 0 ? ValueTask.CompletedTask : SendRegionDropAsync(released);
            case FrameType.RegionDrop:
                (IncomingRegions ?? throw new ProtocolException("REGION_DROP on a connection that maps no regions."))
                    .OnDropped(PayloadCodec.ReadRegionId(payload, FrameType.RegionDrop));
                return ValueTask.CompletedTask;
            case FrameType.HalfClose:
                RequireSide(header, client: false);
                FindStream(header)?.OnHalfClose();
                return ValueTask.CompletedTask;
            case FrameType.Trailers:
                RequireSide(header, client: true);
                var trailers = ReadTrailers(payload);
                if (FindStream(header) is { } ended)
                {
                    ended.OnTrailers(trailers);
                    RemoveStream(ended);
                }

                return ValueTask.CompletedTask;
            case FrameType.Cancel:
                var status = PayloadCodec.ReadCancel(payload);
                if (FindStream(header) is { } cancelled)
                {
                    if (!IsClient)
                    {
                        // The call had not ended (its stream was still open): work started for nothing.
                        CountReset();
                    }

                    RemoveStream(cancelled);
                    cancelled.OnRemoteReset(status);
                }

                return ValueTask.CompletedTask;
            case FrameType.WindowUpdate:
                var increment = PayloadCodec.ReadWindowUpdate(payload);
                if (header.StreamId == 0)
                {
                    return Window.Add((int)increment)
                        ? ValueTask.CompletedTask
                        : throw new ProtocolException("WINDOW_UPDATE overflows the connection's window.");
                }

                if (FindStream(header) is { } stream && !stream.OnWindowUpdate((int)increment))
                {
                    throw new ProtocolException($"WINDOW_UPDATE overflows the window of stream {header.StreamId}.");
                }

                return ValueTask.CompletedTask;
            case FrameType.Ping:
                var opaque = PayloadCodec.ReadPing(payload);
                if (header.HasFlag(FrameFlags.Ack))
                {
                    if (_pings.TryRemove(opaque, out var waiter))
                    {
                        waiter.TrySetResult();
                    }

                    return ValueTask.CompletedTask;
                }

                CountControlReply();
                return WriteAsync(opaque, static (writer, value) => FrameWriter.WritePing(writer, value, ack: true));
            case FrameType.GoAway:
                OnGoAway(PayloadCodec.ReadGoAway(payload));
                return ValueTask.CompletedTask;
            case FrameType.Settings:
                throw new ProtocolException("SETTINGS may only follow the preface.");
            default:
                throw new ProtocolException($"Unknown frame type 0x{(byte)header.Type:x2}.");
        }
    }

    private void RequireSide(FrameHeader header, bool client)
    {
        if (IsClient != client)
        {
            throw new ProtocolException($"A {header.Type} frame may not be sent to a {(IsClient ? "client" : "server")}.");
        }
    }

    /// <summary>The open stream a frame is for; null for a stream already closed (a benign race).</summary>
    private CallStream? FindStream(FrameHeader header)
    {
        // A stream's frames come in runs. Ids are never reused, and a stream leaves the table only
        // once closed, so an open stream with the id is the table's answer, without its lock.
        if (_lastFound is { } last && last.Id == header.StreamId && !last.IsClosed)
        {
            return last;
        }

        if (_streams.TryGet(header.StreamId, out var stream))
        {
            _lastFound = stream;
            return stream;
        }

        _lastFound = null;

        var opened = IsClient ? header.StreamId < Volatile.Read(ref _nextStreamId) : header.StreamId <= _highestStreamId;
        return opened
            ? null
            : throw new ProtocolException($"A {header.Type} frame arrived for stream {header.StreamId}, which was never opened.");
    }

    /// <summary>Server, read loop: a call start; one whose headers pass this side's limit is refused alone.</summary>
    private ValueTask OnCallStartAsync(uint streamId, ReadOnlySequence<byte> payload)
    {
        CallStart start;
        try
        {
            start = PayloadCodec.ReadCallStart(payload, _acceptor, LocalSettings.MaxHeaderListSize);
        }
        catch (HeaderListTooLargeException ex)
        {
            return RefuseOversizedCallAsync(streamId, ex);
        }

        return AcceptCallAsync(streamId, start);
    }

    private async ValueTask RefuseOversizedCallAsync(uint streamId, HeaderListTooLargeException tooLarge)
    {
        TakeNewStreamId(streamId);
        CountReset();
        CountControlReply();
        ConnectionLog.LimitHit(_logger, Peer, "Request headers refused: " + tooLarge.Message);
        await TrySendCancelAsync(streamId, new Status(StatusCode.ResourceExhausted, "Request headers refused: " + tooLarge.Message)).ConfigureAwait(false);
    }

    /// <summary>Client, read loop: response headers; a list past this side's limit fails its call alone.</summary>
    private ValueTask OnResponseHeadersAsync(FrameHeader header, ReadOnlySequence<byte> payload)
    {
        Metadata headers;
        try
        {
            headers = PayloadCodec.ReadResponseHeaders(payload, LocalSettings.MaxHeaderListSize);
        }
        catch (HeaderListTooLargeException ex)
        {
            if (FindStream(header) is not { } refused)
            {
                return ValueTask.CompletedTask;
            }

            refused.ReleaseAssembly();
            ConnectionLog.LimitHit(_logger, Peer, "Response headers refused: " + ex.Message);
            return refused.ResetAsync(new Status(StatusCode.ResourceExhausted, "Response headers refused: " + ex.Message), notifyObserver: true);
        }

        FindStream(header)?.OnResponseHeaders(headers);
        return ValueTask.CompletedTask;
    }

    /// <summary>Client, read loop: trailers past this side's limit end the call as Internal, as grpc-dotnet does.</summary>
    private TrailersPayload ReadTrailers(ReadOnlySequence<byte> payload)
    {
        try
        {
            return PayloadCodec.ReadTrailers(payload, LocalSettings.MaxHeaderListSize);
        }
        catch (HeaderListTooLargeException ex)
        {
            return new TrailersPayload(new Status(StatusCode.Internal, "Response trailers refused: " + ex.Message), Metadata.Empty);
        }
    }

    /// <summary>Server, read loop: a call start's id must be a new odd one; it becomes the highest seen.</summary>
    private void TakeNewStreamId(uint streamId)
    {
        if (streamId % 2 == 0 || streamId <= _highestStreamId)
        {
            throw new ProtocolException($"Stream id {streamId} is not a new odd id above {_highestStreamId}.");
        }

        lock (_acceptLock)
        {
            _highestStreamId = streamId;
        }
    }

    private async ValueTask AcceptCallAsync(uint streamId, CallStart start)
    {
        if (streamId % 2 == 0 || streamId <= _highestStreamId)
        {
            throw new ProtocolException($"Stream id {streamId} is not a new odd id above {_highestStreamId}.");
        }

        bool refused;
        lock (_acceptLock)
        {
            // With GOAWAY's snapshot of the last id under the same lock, a call is either accepted
            // at or below the id GOAWAY names, or refused: never run yet reported as unseen.
            _highestStreamId = streamId;
            refused = _goAwaySentAt is not null;
        }

        var stream = new CallStream(this, streamId, isClient: false);
        if (refused || Volatile.Read(ref _closing) == 1)
        {
            CountReset();
            CountControlReply();
            await TrySendCancelAsync(streamId, new Status(StatusCode.Unavailable, "The server is shutting down.")).ConfigureAwait(false);
            return;
        }

        if (_slots is { } slots && !slots.TryTake())
        {
            CountReset();
            CountControlReply();
            var refusal = new Status(StatusCode.Unavailable, $"Too many concurrent calls on one connection (limit {LocalSettings.MaxConcurrentStreams}).");
            ConnectionLog.LimitHit(_logger, Peer, refusal.Detail);
            await TrySendCancelAsync(streamId, refusal).ConfigureAwait(false);
            return;
        }

        stream.OnSlotTaken();
        Interlocked.Increment(ref _streamsStarted);
        if (!_streams.TryAdd(stream))
        {
            stream.ReleaseSlot();
            return;
        }

        _acceptor!.OnCallStarted(this, stream, start);
    }

    private void OnGoAway(GoAwayPayload goAway)
    {
        Volatile.Write(ref _goAwayDetail, goAway.Status.Detail);
        _goAwayReceived = true;
        ConnectionLog.GoAwayReceived(_logger, Peer, goAway.LastStreamId, goAway.Status.Detail);
        if (!IsClient)
        {
            return;
        }

        // Calls above the last id never reached the server: they fail and may be retried elsewhere.
        var refused = new Status(StatusCode.Unavailable, "The server is going away: " + goAway.Status.Detail);
        foreach (var stream in _streams.Snapshot())
        {
            if (stream.Id > goAway.LastStreamId)
            {
                RemoveStream(stream);
                stream.OnRemoteReset(refused);
            }
        }
    }

    /// <summary>Server, read loop: a stream the peer reset before its call ended, or one refused; too many close the connection.</summary>
    private void CountReset()
    {
        if (!_resets.TrySpend())
        {
            throw new ProtocolException("Too many stream resets: the peer reset or had refused streams faster than this side allows.");
        }
    }

    /// <summary>
    /// Read loop, before a reply the peer asked for: while the output backs up past its mark the
    /// peer is asking without reading, and each reply would grow this side's memory.
    /// </summary>
    private void CountControlReply()
    {
        if (Backlog is not { } backlog || !backlog.IsAboveMark)
        {
            _pendingControlReplies = 0;
            return;
        }

        if (++_pendingControlReplies > MaxPendingControlReplies)
        {
            throw new ProtocolException($"The peer asked for more than {MaxPendingControlReplies} replies without reading them.");
        }
    }

    /// <summary>Writer of call data: waits while unsent output is above the high-water mark.</summary>
    internal ValueTask WaitForOutputRoomAsync(CancellationToken cancellationToken) =>
        Backlog?.WaitForRoomAsync(cancellationToken) ?? ValueTask.CompletedTask;

    /// <summary>Client, under the write lock: gives a starting call the next id.</summary>
    internal void AssignStreamId(CallStream stream)
    {
        if (_goAwayReceived || _nextStreamId > int.MaxValue)
        {
            throw stream.FailUnstarted(new Status(StatusCode.Unavailable, "The connection accepts no new calls."));
        }

        stream.Id = _nextStreamId;
        if (!_streams.TryAdd(stream))
        {
            // The connection is closing: its table was emptied and nobody would ever end this stream.
            stream.Id = 0;
            throw stream.FailUnstarted(new Status(StatusCode.Unavailable, "The connection was closed."));
        }

        Volatile.Write(ref _nextStreamId, _nextStreamId + 2);
        Interlocked.Increment(ref _streamsStarted);
    }

    internal void RemoveStream(CallStream stream)
    {
        if (stream.Id != 0)
        {
            _streams.Remove(stream);
        }
    }

    /// <summary>
    /// Runs <paramref name="write"/> on the output under the write lock and flushes. Transports
    /// buffer without pausing (flow control bounds what is in flight), so a flush never waits on
    /// the peer and the read loop can write its control frames without risk of deadlock.
    /// </summary>
    internal async ValueTask WriteAsync<TState>(TState state, Action<PipeWriter, TState> write)
    {
        await _writeLock.EnterAsync().ConfigureAwait(false);
        try
        {
            if (_outputClosed)
            {
                throw new IOException("The connection is closed.");
            }

            write(_output, state);
            Backlog?.Added(_output.UnflushedBytes);
            var flush = await _output.FlushAsync().ConfigureAwait(false);
            if (flush.IsCompleted)
            {
                _outputClosed = true;
                throw new IOException("The peer stopped reading.");
            }

            _medium?.AfterFlush();
        }
        finally
        {
            _writeLock.Exit();
        }
    }

    internal async ValueTask TrySendCancelAsync(uint streamId, Status status)
    {
        try
        {
            await WriteAsync((streamId, status), static (writer, state) => FrameWriter.WriteCancel(writer, state.streamId, state.status)).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // The connection is gone, which cancels the stream on the other side as well.
        }
    }

    /// <summary>CANCEL for <paramref name="stream"/> if the peer has heard of it; decided under the write lock.</summary>
    internal async ValueTask TrySendCancelAsync(CallStream stream, Status status)
    {
        try
        {
            await WriteAsync((stream, status), static (writer, state) =>
            {
                if (state.stream.Id != 0)
                {
                    FrameWriter.WriteCancel(writer, state.stream.Id, state.status);
                }
            }).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // The connection is gone, which cancels the stream on the other side as well.
        }
    }

    internal async ValueTask TrySendWindowUpdateAsync(uint streamId, int increment)
    {
        try
        {
            await WriteAsync((streamId, increment), static (writer, state) => FrameWriter.WriteWindowUpdate(writer, state.streamId, state.increment)).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // The connection is gone; its streams are failing already.
        }
    }

    /// <summary>
    /// Read loop: a MESSAGE_REF. The region is taken even for a stream already gone, so that a
    /// region it announces is mapped (its descriptor consumed in order) and released at once.
    /// </summary>
    private ValueTask OnMessageReferenceAsync(FrameHeader header, ReadOnlySequence<byte> payload)
    {
        var reference = PayloadCodec.ReadMessageReference(payload, header.Flags);
        var region = (IncomingRegions ?? throw new ProtocolException("MESSAGE_REF on a connection that maps no regions.")).Take(reference);
        if (FindStream(header) is { } receiving)
        {
            return receiving.OnMappedMessageAsync(region, reference.Length, header.Flags);
        }

        region.Release();
        return ValueTask.CompletedTask;
    }

    private async ValueTask SendRegionDropAsync(uint id)
    {
        await WriteAsync(id, static (writer, region) => FrameWriter.WriteRegionControl(writer, FrameType.RegionDrop, region)).ConfigureAwait(false);
        OutgoingRegions!.OnDropSent(id);
    }

    /// <summary>Any thread: a reader is done with the message in region <paramref name="id"/>.</summary>
    private void SendRegionRelease(uint id) => _ = SendRegionReleaseAsync(id);

    private async Task SendRegionReleaseAsync(uint id)
    {
        try
        {
            await WriteAsync(id, static (writer, region) => FrameWriter.WriteRegionControl(writer, FrameType.RegionRelease, region)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The connection is gone, and the region with it.
        }
    }

    /// <summary>
    /// Any thread: <paramref name="bytes"/> received earlier no longer count against the connection
    /// window; the peer hears of it once half a window is owed. Never waits on the peer.
    /// </summary>
    internal void FreeConnectionWindow(int bytes)
    {
        var increment = Window.Free(bytes);
        if (increment > 0)
        {
            _ = SendConnectionWindowUpdateAsync(increment);
        }
    }

    private async Task SendConnectionWindowUpdateAsync(int increment) =>
        await TrySendWindowUpdateAsync(0, increment).ConfigureAwait(false);

    /// <summary>Server: refuse new calls; calls up to the last accepted id may finish.</summary>
    public async ValueTask TrySendGoAwayAsync(Status status)
    {
        try
        {
            await WriteAsync((this, status), static (writer, state) =>
            {
                var connection = state.Item1;
                uint lastStreamId;
                lock (connection._acceptLock)
                {
                    connection._goAwaySentAt ??= connection._highestStreamId;
                    lastStreamId = connection._goAwaySentAt.Value;
                }

                FrameWriter.WriteGoAway(writer, lastStreamId, state.status);
            }).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // Already closed: nothing more will arrive anyway.
        }
    }

    /// <summary>Measures a round trip to the peer.</summary>
    public async Task PingAsync(CancellationToken cancellationToken)
    {
        var opaque = (ulong)Interlocked.Increment(ref _nextPing);
        var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _pings[opaque] = answered;
        try
        {
            await WriteAsync(opaque, static (writer, value) => FrameWriter.WritePing(writer, value, ack: false)).ConfigureAwait(false);
            await answered.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _pings.TryRemove(opaque, out _);
        }
    }

    /// <summary>
    /// Open → draining, once, whoever gets here first (the read loop as it ends, or a dispose that
    /// never started one): fails every open stream and ping and ends the output. The bytes already
    /// written still go out; <see cref="DisposeAsync"/> bounds how long they may take.
    /// </summary>
    private async ValueTask CloseAsync(Exception? error)
    {
        if (Interlocked.Exchange(ref _closing, 1) == 1)
        {
            return;
        }

        Interlocked.CompareExchange(ref _state, (int)ConnectionState.Draining, (int)ConnectionState.Open);
        _idleTimer?.Dispose();
        _keepAliveTimer?.Dispose();
        // The peer's GOAWAY names why it ended the connection better than the end of stream that follows it.
        var detail = error is not null ? "The connection was closed: " + error.Message
            : Volatile.Read(ref _goAwayDetail) is { } reason ? "The connection was closed by the peer: " + reason
            : "The connection was closed.";
        var status = new Status(StatusCode.Unavailable, detail, error);
        _slots?.Close();
        Window.Fail(new IOException(detail, error));
        foreach (var stream in _streams.Close())
        {
            stream.OnConnectionClosed(status);
        }

        foreach (var ping in _pings.Values)
        {
            ping.TrySetException(new IOException(detail, error));
        }

        // Writers hold the lock only to copy into the output, never while waiting on the peer.
        await _writeLock.EnterAsync().ConfigureAwait(false);
        try
        {
            _outputClosed = true;
            await _output.CompleteAsync().ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Exit();
        }

        // A broken transport is torn down at once; after a protocol error the GOAWAY that names it
        // still has to reach the peer, so the output drains (for at most DrainTimeout) on dispose.
        if (error is not null and not ProtocolException)
        {
            _transport.Abort(error);
        }

        ConnectionLog.Closed(_logger, Peer, error?.Message ?? "closed");
        _closed.TrySetResult();
        CountClosed();
    }

    /// <summary>Starts the close: stops reading; calls still open fail with Unavailable. <see cref="DisposeAsync"/> finishes it.</summary>
    public void Close() => _input.CancelPendingRead();

    /// <summary>Tears the connection down at once: every call on it fails with Unavailable.</summary>
    public void Abort(Exception reason)
    {
        _transport.Abort(reason);
        _input.CancelPendingRead();
    }

    /// <summary>
    /// Draining → closed: ends reading, lets written bytes reach the peer for at most
    /// <see cref="DrainTimeout"/>, then aborts the transport. Never waits on the peer beyond that.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_readLoop is null)
            {
                await CloseAsync(null).ConfigureAwait(false);
            }
            else
            {
                _input.CancelPendingRead();
                await WithinDrainTimeoutAsync(_readLoop).ConfigureAwait(false);
            }
        }
        finally
        {
            // The write lock is not disposed: it holds no wait handle, and a late GOAWAY or CANCEL
            // racing with disposal must fail as a closed connection, not as a disposed object.
            await WithinDrainTimeoutAsync(_transport.DisposeAsync().AsTask()).ConfigureAwait(false);
            Volatile.Write(ref _state, (int)ConnectionState.Closed);
        }
    }

    /// <summary>Waits for <paramref name="task"/>; past the drain timeout the transport is aborted, which ends it.</summary>
    private async Task WithinDrainTimeoutAsync(Task task)
    {
        try
        {
            await task.WaitAsync(DrainTimeout).ConfigureAwait(false);
            return;
        }
        catch (TimeoutException)
        {
            _transport.Abort(new TimeoutException($"The connection did not drain within {DrainTimeout.TotalSeconds:0.#} s."));
        }

        // Aborting closes the medium, which fails whatever the task waits on.
        await task.ConfigureAwait(false);
    }
}

/// <summary>The one close path every connection goes through, whoever closes it.</summary>
internal enum ConnectionState
{
    /// <summary>Calls start and run.</summary>
    Open,

    /// <summary>Streams have failed and the output is complete; written bytes may still be reaching the peer.</summary>
    Draining,

    /// <summary>The transport is released.</summary>
    Closed,
}

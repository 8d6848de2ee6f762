using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Rpc.Transports.Internal;

/// <summary>
/// The one accept-loop shape every listener shares. A loop takes raw connections off the medium
/// (<see cref="AcceptRawAsync"/>) and starts each one's handshake and admission check
/// (<see cref="CompleteAsync"/>) on a task of its own with <see cref="HandshakeTimeout"/>, so a
/// peer that never finishes its handshake holds up only itself. Finished connections wait in a
/// bounded queue for <see cref="AcceptAsync"/>.
/// </summary>
/// <remarks>
/// Threads: the accept loop alone calls <see cref="AcceptRawAsync"/> and owns its back-off; each
/// handshake task owns its raw connection until it hands the finished connection to the queue or
/// discards it. They meet at <see cref="_ready"/> (handshakes write, <see cref="AcceptAsync"/>
/// reads) and at <see cref="_handshakeSlots"/>. <see cref="DisposeAsync"/> may run on any thread;
/// it cancels <see cref="_unbound"/>, which every wait here observes.
/// Bounds: at most <see cref="MaxPendingHandshakes"/> handshakes at once (beyond that the loop
/// waits for a slot, and the kernel's backlog holds new peers) and <see cref="ReadyCapacity"/>
/// finished connections not yet taken by <see cref="AcceptAsync"/>.
/// </remarks>
/// <typeparam name="TRaw">What the medium's accept returns: a socket, a pipe instance.</typeparam>
internal abstract class AcceptingListener<TRaw> : ITransportListener
    where TRaw : class
{
    /// <summary>Handshakes in progress at once; enough for thousands of silent peers to leave room for real ones.</summary>
    public const int MaxPendingHandshakes = 4096;

    /// <summary>Finished connections waiting for <see cref="AcceptAsync"/>.</summary>
    public const int ReadyCapacity = 64;

    private static readonly TimeSpan MinBackoff = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(1);

    // Disposing waits this long for the loop and the handshakes to notice they are cancelled.
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly Channel<ITransportConnection> _ready = Channel.CreateBounded<ITransportConnection>(
        new BoundedChannelOptions(ReadyCapacity) { SingleReader = false, SingleWriter = false, FullMode = BoundedChannelFullMode.Wait });

    private readonly CancellationTokenSource _unbound = new();
    private readonly SemaphoreSlim _handshakeSlots = new(MaxPendingHandshakes, MaxPendingHandshakes);
    private readonly ConcurrentDictionary<Task, byte> _handshakes = new();
    private Task _loop = Task.CompletedTask;
    private int _disposed;

    /// <param name="address">The address bound, reported to clients and in logs.</param>
    /// <param name="options">The address's listen options (logger, admission policy).</param>
    /// <param name="handshakeTimeout">How long one connection's <see cref="CompleteAsync"/> may take.</param>
    protected AcceptingListener(TransportAddress address, ListenOptions options, TimeSpan handshakeTimeout)
    {
        ArgumentNullException.ThrowIfNull(options);
        AssemblyWarmUp.Ensure();
        DescriptorReserve.EnsureHeld();
        Address = address;
        Options = options;
        HandshakeTimeout = handshakeTimeout;
    }

    /// <inheritdoc/>
    public TransportAddress Address { get; }

    /// <summary>The options this address was bound with.</summary>
    protected ListenOptions Options { get; }

    /// <summary>How long one connection's <see cref="CompleteAsync"/> may take.</summary>
    protected TimeSpan HandshakeTimeout { get; }

    /// <summary>Finished connections not yet accepted; for tests.</summary>
    internal int ReadyCount => _ready.Reader.Count;

    /// <summary>Handshakes in progress; for tests.</summary>
    internal int PendingHandshakes => _handshakes.Count;

    /// <inheritdoc/>
    public async ValueTask<ITransportConnection?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _ready.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            return null;
        }
    }

    /// <summary>Stops accepting, refuses what is still in its handshake, closes what was never accepted. Never throws.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _unbound.CancelAsync().ConfigureAwait(false);
        Try(Unbind);
        await WaitBoundedAsync(_loop).ConfigureAwait(false);
        await WaitBoundedAsync(Task.WhenAll(_handshakes.Keys)).ConfigureAwait(false);
        _ready.Writer.TryComplete();
        while (_ready.Reader.TryRead(out var unaccepted))
        {
            await DisposeQuietlyAsync(unaccepted).ConfigureAwait(false);
        }

        Try(OnUnbound);
    }

    /// <summary>Starts the accept loop; the subclass calls it last in its constructor.</summary>
    protected void StartAccepting() => _loop = AcceptLoopAsync();

    /// <summary>
    /// The medium's next raw connection. Throws when the medium fails; the loop sorts the failure
    /// (see <see cref="AcceptFailures"/>) and goes on unless the listener was unbound.
    /// </summary>
    protected abstract ValueTask<TRaw> AcceptRawAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Turns a raw connection into a transport connection: a handshake, the admission check.
    /// Runs on a task of its own, cancelled after <see cref="HandshakeTimeout"/>. Throw to refuse
    /// the peer: the message is logged. On failure it disposes what it built around
    /// <paramref name="raw"/>; <see cref="Discard"/> then releases <paramref name="raw"/> itself.
    /// </summary>
    protected abstract ValueTask<ITransportConnection> CompleteAsync(TRaw raw, CancellationToken cancellationToken);

    /// <summary>Releases a raw connection that will not be handed out; must not throw.</summary>
    protected abstract void Discard(TRaw raw);

    /// <summary>Closes the listening medium, so a pending <see cref="AcceptRawAsync"/> ends.</summary>
    protected abstract void Unbind();

    /// <summary>Cleans up after the loop and every handshake ended (a socket file, say).</summary>
    protected virtual void OnUnbound()
    {
    }

    /// <summary>Names the peer of <paramref name="raw"/> for a log entry.</summary>
    protected virtual string Describe(TRaw raw) => "a peer";

    /// <summary>Waits before accepting again after a failure; a seam for tests.</summary>
    protected virtual Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken) => Task.Delay(delay, cancellationToken);

    private async Task AcceptLoopAsync()
    {
        // Off the binder's thread: the first accept must not run inside BindAsync.
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        var backoff = MinBackoff;
        var token = _unbound.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await _handshakeSlots.WaitAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            TRaw raw;
            try
            {
                raw = await AcceptRawAsync(token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                _handshakeSlots.Release();
                if (AcceptFailures.Classify(ex) == AcceptFailure.ResourceExhausted)
                {
                    DescriptorReserve.Release();
                }

                if (token.IsCancellationRequested || !await RecoverAsync(ex, backoff, token).ConfigureAwait(false))
                {
                    break;
                }

                backoff = AcceptFailures.Classify(ex) is AcceptFailure.ResourceExhausted or AcceptFailure.Unexpected
                    ? TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks))
                    : backoff;
                continue;
            }

            if (!DescriptorReserve.EnsureHeld())
            {
                // Still out of descriptors: a handshake would need more of them, and threads. The
                // peer is told at once by the close, and the backlog drains instead of waiting.
                ListenerLog.Shed(Options.Logger, Address.ToString());
                Discard(raw);
                _handshakeSlots.Release();
                continue;
            }

            backoff = MinBackoff;
            var handshake = HandshakeAsync(raw);
            _handshakes.TryAdd(handshake, 0);
            // Runs even if the handshake already ended, and always after the add above.
            _ = handshake.ContinueWith(static (done, state) => ((ConcurrentDictionary<Task, byte>)state!).TryRemove(done, out _),
                _handshakes, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>Logs a failed accept and waits as its kind asks; false once the listener is unbound.</summary>
    private async Task<bool> RecoverAsync(Exception ex, TimeSpan backoff, CancellationToken token)
    {
        switch (AcceptFailures.Classify(ex))
        {
            case AcceptFailure.PeerGone:
                ListenerLog.PeerGone(Options.Logger, Address.ToString(), ex.Message);
                return true;
            case AcceptFailure.Refused:
                ListenerLog.Refused(Options.Logger, Address.ToString(), "a peer", ex.Message);
                return true;
            default:
                ListenerLog.AcceptFailed(Options.Logger, Address.ToString(), ex.Message, (int)backoff.TotalMilliseconds);
                try
                {
                    await DelayAsync(backoff, token).ConfigureAwait(false);
                    return true;
                }
                catch (OperationCanceledException)
                {
                    return false;
                }
        }
    }

    private async Task HandshakeAsync(TRaw raw)
    {
        // Off the loop, so even a handshake's synchronous first steps do not delay the next accept.
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        // Named now: a failed handshake may have closed what would tell.
        var peer = Describe(raw);
        try
        {
            ITransportConnection connection;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(_unbound.Token))
            {
                timeout.CancelAfter(HandshakeTimeout);
                try
                {
                    connection = await CompleteAsync(raw, timeout.Token).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    Discard(raw);
                    if (!_unbound.IsCancellationRequested)
                    {
                        var reason = timeout.IsCancellationRequested
                            ? $"no handshake within {HandshakeTimeout.TotalSeconds:0.###} s"
                            : ex.Message;
                        ListenerLog.Refused(Options.Logger, Address.ToString(), peer, reason);
                    }

                    return;
                }
            }

            try
            {
                await _ready.Writer.WriteAsync(connection, _unbound.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
            {
                // Unbound while it waited for a place in the queue: nobody will accept it.
                await DisposeQuietlyAsync(connection).ConfigureAwait(false);
            }
        }
        finally
        {
            _handshakeSlots.Release();
        }
    }

    private async Task WaitBoundedAsync(Task task)
    {
        try
        {
            await task.WaitAsync(StopTimeout).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            ListenerLog.UnbindFailed(Options.Logger, Address.ToString(), ex.Message);
        }
    }

    private async Task DisposeQuietlyAsync(ITransportConnection connection)
    {
        try
        {
            await connection.DisposeAsync().AsTask().WaitAsync(StopTimeout).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            ListenerLog.UnbindFailed(Options.Logger, Address.ToString(), ex.Message);
        }
    }

    private void Try(Action action)
    {
        try
        {
            action();
        }
        catch (Exception ex)
        {
            ListenerLog.UnbindFailed(Options.Logger, Address.ToString(), ex.Message);
        }
    }
}

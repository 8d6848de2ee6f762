using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Threading.Channels;
using Rpc.Transports.Internal;
using Rpc.Transports.Sockets;

namespace Rpc.Transports.SharedMemory;

/// <summary>
/// Accepts control sockets on a loop of its own and runs each one's handshake (credential check,
/// segment hand-over) on a task of its own with its own timeout, so a silent or slow client never
/// holds up the next accept. Finished connections wait for <see cref="AcceptAsync"/> in a bounded
/// queue.
/// </summary>
/// <remarks>
/// Threads: the accept loop owns <c>_socket</c>'s accepts; each handshake task owns its control
/// socket until it queues the connection, which then belongs to whoever dequeues it (or to
/// <see cref="DisposeAsync"/>, which drains the queue).
/// </remarks>
internal sealed class SharedMemoryListener : ITransportListener
{
    // Beyond this many handshakes in progress the loop stops accepting (the kernel's backlog holds
    // the rest) until one finishes or times out: a pending handshake costs a socket and a task.
    private const int MaxPendingHandshakes = 1024;

    // Connections set up but not yet taken by AcceptAsync; a full queue makes handshakes wait.
    private const int ReadyQueueCapacity = 64;

    // Accept failures that are not the listener closing (EMFILE, say) are retried after this pause.
    private static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(100);

    // How long DisposeAsync waits for handshakes it has cancelled.
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly Socket _socket;
    private readonly string _name;
    private readonly string _path;
    private readonly SharedMemoryTransportOptions _options;
    private readonly ListenOptions _listenOptions;
    private readonly uint _ownUserId;
    private readonly Channel<SharedMemoryConnection> _ready = Channel.CreateBounded<SharedMemoryConnection>(
        new BoundedChannelOptions(ReadyQueueCapacity) { FullMode = BoundedChannelFullMode.Wait });
    private readonly SemaphoreSlim _handshakeSlots = new(MaxPendingHandshakes);
    private readonly ConcurrentDictionary<Task, bool> _handshakes = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _acceptLoop;
    private int _disposed;

    public SharedMemoryListener(Socket socket, TransportAddress address, string name, string path, SharedMemoryTransportOptions options, ListenOptions listenOptions)
    {
        _socket = socket;
        _name = name;
        _path = path;
        _options = options;
        _listenOptions = listenOptions;
        _ownUserId = options.UserIdOverride ?? ShmNative.EffectiveUserId;
        Address = address;
        _acceptLoop = AcceptLoopAsync();
    }

    public TransportAddress Address { get; }

    /// <summary>The handshakes in progress; for tests.</summary>
    internal int PendingHandshakes => _handshakes.Count;

    public async ValueTask<ITransportConnection?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _ready.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException ex) when (ex.InnerException is null)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_handshakes.Keys).WaitAsync(StopTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Cancelled handshakes end at their next await; one that does not is left to its own timeout.
        }

        _ready.Writer.TryComplete();
        while (_ready.Reader.TryRead(out var connection))
        {
            await ((IAsyncDisposable)connection).DisposeAsync().ConfigureAwait(false);
        }

        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
            // Already gone.
        }

        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        try
        {
            while (true)
            {
                await _handshakeSlots.WaitAsync(_stopping.Token).ConfigureAwait(false);
                Socket? control;
                try
                {
                    control = await SocketAcceptor.AcceptAsync(_socket, () => Volatile.Read(ref _disposed) == 1, _stopping.Token).ConfigureAwait(false);
                }
                catch (SocketException ex)
                {
                    // Out of descriptors or memory: the listener stays, and tries again after a pause.
                    _handshakeSlots.Release();
                    SharedMemoryLog.AcceptFailed(_listenOptions.Logger, Address.ToString(), ex.Message);
                    await Task.Delay(AcceptRetryDelay, _stopping.Token).ConfigureAwait(false);
                    continue;
                }

                if (control is null)
                {
                    break;
                }

                var handshake = HandshakeAsync(control);
                _handshakes.TryAdd(handshake, true);
                _ = handshake.ContinueWith(done => _handshakes.TryRemove(done, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // Unbound.
        }
        catch (Exception ex)
        {
            _ready.Writer.TryComplete(ex);
            return;
        }

        if (Volatile.Read(ref _disposed) == 0)
        {
            _ready.Writer.TryComplete();
        }
    }

    private async Task HandshakeAsync(Socket control)
    {
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        SharedMemoryConnection? connection = null;
        var reserved = false;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            timeout.CancelAfter(_options.HandshakeTimeout);
            var peer = PeerCredentials.Read(control);
            if (PeerCredentials.Refusal(peer, _listenOptions, _ownUserId) is { } reason)
            {
                SharedMemoryLog.Refused(_listenOptions.Logger, Address.ToString(), peer.ProcessId, peer.UserId, peer.GroupId, reason);
                await SharedMemoryHandshake.RefuseAsync(control, reason, timeout.Token).ConfigureAwait(false);
                control.Dispose();
                return;
            }

            // The connection's receive thread counts against the process's cap; past it, refuse.
            reserved = ReceiveThreads.TryReserve();
            if (!reserved)
            {
                var full = $"the server already has {ReceiveThreads.Max} receive threads; try again later";
                SharedMemoryLog.Refused(_listenOptions.Logger, Address.ToString(), peer.ProcessId, peer.UserId, peer.GroupId, full);
                await SharedMemoryHandshake.RefuseAsync(control, full, timeout.Token).ConfigureAwait(false);
                control.Dispose();
                return;
            }

            var segment = await SharedMemoryHandshake.ServeAsync(control, _name, _options.RingCapacity, timeout.Token).ConfigureAwait(false);
            connection = new SharedMemoryConnection(control, segment, isServer: true, _options.SpinDuration, PeerCredentials.Describe("shm", peer), peer);
            reserved = false; // the connection releases it now
            await _ready.Writer.WriteAsync(connection, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ChannelClosedException or ObjectDisposedException)
        {
            SharedMemoryLog.HandshakeFailed(_listenOptions.Logger, Address.ToString(), ex.Message);
            if (connection is not null)
            {
                await ((IAsyncDisposable)connection).DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                control.Dispose();
            }
        }
        finally
        {
            if (reserved)
            {
                ReceiveThreads.Release();
            }

            _handshakeSlots.Release();
        }
    }
}

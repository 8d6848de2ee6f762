using System.Net.Sockets;
using Rpc.Transports.Internal;

namespace Rpc.Transports.Sockets;

/// <summary>A connected stream socket: TCP as it is, Unix domain through <see cref="UnixSocketConnection"/>, which adds descriptor passing.</summary>
/// <remarks>
/// Where poll(2) exists the connection receives on a thread of its own that waits in the kernel,
/// so arriving bytes wake that thread directly and the protocol's frame loop runs on it. An
/// asynchronous receive takes two wake-ups instead: the runtime's socket thread, then a thread-pool
/// thread. Measured over a Unix socket (grpc-dotnet 75–84 µs and 46–56k calls/s in the same
/// runs): sequential unary p50 45 → 30 µs, 64 callers 117–138k → 176–194k calls/s. The price is
/// one thread per connection, asleep in the kernel while the connection is idle, up to
/// <see cref="ReceiveThreads.Max"/> in a process; connections beyond that receive asynchronously.
/// </remarks>
internal class SocketConnection : TransportConnection
{
    private readonly Socket _socket;
    // Null where sends go through the runtime (off Linux); see SocketSends for why not here.
    private readonly WritableWaiter? _writable;
    // The receive thread's alone.
    private AdaptiveSpin _spin;

    public SocketConnection(Socket socket, string peer, int maxBufferSize, PeerIdentity? identity = null)
        : this(socket, peer, maxBufferSize, identity, start: true)
    {
    }

    /// <param name="socket">The connected socket, now the connection's.</param>
    /// <param name="peer">The peer's description.</param>
    /// <param name="maxBufferSize">Bytes received ahead of the protocol before receiving pauses.</param>
    /// <param name="identity">The peer's credentials, when known.</param>
    /// <param name="start">False for a subclass that has fields to set first: it calls <see cref="TransportConnection.Start"/> itself.</param>
    /// <param name="spin">How long the receive thread asks for bytes without sleeping before it sleeps, at most; zero sleeps at once.</param>
    protected SocketConnection(Socket socket, string peer, int maxBufferSize, PeerIdentity? identity, bool start, TimeSpan spin = default)
        : base(peer, maxBufferSize)
    {
        _socket = socket;
        _writable = SocketSends.IsSupported ? new WritableWaiter(socket.SafeHandle) : null;
        _spin = new AdaptiveSpin((long)(spin.TotalSeconds * System.Diagnostics.Stopwatch.Frequency));
        PeerIdentity = identity;
        if (start)
        {
            Start();
        }
    }

    /// <summary>Receive thread: waits until the socket can be read, spinning first as long as spinning catches bytes.</summary>
    protected void WaitReadable()
    {
        if (_spin.Budget == 0)
        {
            Readiness.WaitReadable(_socket.SafeHandle);
            return;
        }

        var began = System.Diagnostics.Stopwatch.GetTimestamp();
        if (!Readiness.WaitReadable(_socket.SafeHandle, _spin.Budget))
        {
            _spin.Missed(System.Diagnostics.Stopwatch.GetTimestamp() - began);
        }
    }

    /// <summary>The connected socket.</summary>
    protected internal Socket Socket => _socket;

    protected override bool CoalescesSendsWithinWork => _socket.ProtocolType == ProtocolType.Tcp;

    protected override int SendBatchWithinItem => _socket.ProtocolType == ProtocolType.Tcp ? 0 : 16 * 1024;

    protected override ReceiveMode Receiving => Readiness.IsSupported ? ReceiveMode.ThreadWhileAvailable : ReceiveMode.Async;

    protected override int Receive(Span<byte> buffer)
    {
        WaitReadable();
        // Readable, so this returns at once: bytes, or 0 at the end of the stream.
        return _socket.Receive(buffer, SocketFlags.None);
    }

    protected override ValueTask<int> ReceiveAsync(Memory<byte> buffer) => _socket.ReceiveAsync(buffer, SocketFlags.None);

    protected override ValueTask SendAsync(ReadOnlyMemory<byte> buffer)
    {
        if (_writable is null)
        {
            return SendThroughRuntimeAsync(buffer);
        }

        while (!buffer.IsEmpty)
        {
            var sent = SocketSends.Send(_socket.SafeHandle, buffer.Span);
            if (sent < 0)
            {
                return SendWhenWritableAsync(buffer);
            }

            buffer = buffer[sent..];
        }

        return default;
    }

    /// <summary>Send loop, Linux only: completes when the socket's full buffer has room again, or the socket hung up.</summary>
    protected Task WaitWritableAsync() => _writable?.WaitAsync() ?? throw new PlatformNotSupportedException();

    private async ValueTask SendWhenWritableAsync(ReadOnlyMemory<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var sent = SocketSends.Send(_socket.SafeHandle, buffer.Span);
            if (sent < 0)
            {
                await _writable!.WaitAsync().ConfigureAwait(false);
                continue;
            }

            buffer = buffer[sent..];
        }
    }

    private async ValueTask SendThroughRuntimeAsync(ReadOnlyMemory<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var sent = await _socket.SendAsync(buffer, SocketFlags.None).ConfigureAwait(false);
            buffer = buffer[sent..];
        }
    }

    protected override void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    protected override void CloseMedium()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Not connected any more; closing is all that is left.
        }

        _socket.Dispose();
        // After the shutdown: a send still waiting for room retries and fails.
        _writable?.Dispose();
    }

    protected override bool IsConnectionEnd(Exception ex) => ex is SocketException || base.IsConnectionEnd(ex);
}

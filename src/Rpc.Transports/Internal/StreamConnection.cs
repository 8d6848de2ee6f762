using System.IO.Pipes;

namespace Rpc.Transports.Internal;

/// <summary>A connected <see cref="Stream"/>: a named or anonymous pipe, or TLS over TCP.</summary>
/// <remarks>
/// A pipe on Linux is read like a socket (see <see cref="Sockets.SocketConnection"/>): by a thread
/// of its own blocked in poll(2), woken directly by arriving bytes, or by an eventfd when the
/// connection closes, since a pipe cannot be shut down to wake it. TLS reads asynchronously.
/// </remarks>
internal sealed class StreamConnection : TransportConnection
{
    private readonly Stream _receive;
    private readonly Stream _send;
    private readonly Action? _onClose;
    private readonly PipeStream? _polledPipe;
    private readonly Readiness.Waker? _closeWaker;

    /// <summary>One duplex stream, or two one-way streams as anonymous pipes come.</summary>
    public StreamConnection(Stream receive, Stream send, string peer, int maxBufferSize, Action? onClose = null, PeerIdentity? identity = null)
        : base(peer, maxBufferSize)
    {
        PeerIdentity = identity;
        _receive = receive;
        _send = send;
        _onClose = onClose;
        if (receive is PipeStream pipe && Readiness.HasWaker)
        {
            _polledPipe = pipe;
            _closeWaker = new Readiness.Waker();
        }

        Start();
    }

    protected override ReceiveMode Receiving => _polledPipe is not null ? ReceiveMode.ThreadWhileAvailable : ReceiveMode.Async;

    protected override int Receive(Span<byte> buffer) =>
        // Readable, so the read returns at once: bytes, or 0 at the end of the stream.
        Readiness.WaitReadable(_polledPipe!.SafePipeHandle, _closeWaker) ? _receive.Read(buffer) : 0;

    protected override ValueTask<int> ReceiveAsync(Memory<byte> buffer) => _receive.ReadAsync(buffer);

    protected override async ValueTask SendAsync(ReadOnlyMemory<byte> buffer)
    {
        await _send.WriteAsync(buffer).ConfigureAwait(false);
        await _send.FlushAsync().ConfigureAwait(false);
    }

    protected override void ShutdownSend()
    {
        if (!ReferenceEquals(_send, _receive))
        {
            _send.Dispose();
        }
    }

    protected override void CloseMedium()
    {
        _closeWaker?.Wake();
        _receive.Dispose();
        _send.Dispose();
        _onClose?.Invoke();
    }

    protected override ValueTask DisposeMediumAsync()
    {
        _closeWaker?.Dispose();
        return ValueTask.CompletedTask;
    }
}

namespace Rpc.Transports.Internal;

/// <summary>A connected <see cref="Stream"/>: a named or anonymous pipe, or TLS over TCP.</summary>
internal sealed class StreamConnection : TransportConnection
{
    private readonly Stream _receive;
    private readonly Stream _send;
    private readonly Action? _onClose;

    /// <summary>One duplex stream, or two one-way streams as anonymous pipes come.</summary>
    public StreamConnection(Stream receive, Stream send, string peer, int maxBufferSize, Action? onClose = null)
        : base(peer, maxBufferSize)
    {
        _receive = receive;
        _send = send;
        _onClose = onClose;
        Start();
    }

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
        _receive.Dispose();
        _send.Dispose();
        _onClose?.Invoke();
    }
}

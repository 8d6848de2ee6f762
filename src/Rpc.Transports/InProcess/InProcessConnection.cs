using System.Buffers;
using System.IO.Pipelines;
using Rpc.Transports.Internal;

namespace Rpc.Transports.InProcess;

/// <summary>One end of an in-process connection: reads the peer's pipe, writes its own.</summary>
/// <remarks>
/// The connection's receive loop alone reads <see cref="_receive"/> and its send loop alone writes
/// <see cref="_send"/>; closing from any other thread only cancels their pending waits, and the
/// pipes are completed once both loops have ended (<see cref="DisposeMediumAsync"/>), so neither
/// loop meets a pipe completed under it.
/// </remarks>
internal sealed class InProcessConnection : TransportConnection
{
    private readonly PipeReader _receive;
    private readonly PipeWriter _send;
    private volatile bool _closing;

    public InProcessConnection(PipeReader receive, PipeWriter send, string peer, PeerIdentity identity)
        : base(peer, InProcessTransport.PipeCapacity)
    {
        _receive = receive;
        _send = send;
        PeerIdentity = identity;
        Start();
    }

    // A send is a memory copy, as for shared memory: nothing to gain by waiting for more.
    protected override bool CoalescesSends => false;

    protected override async ValueTask<int> ReceiveAsync(Memory<byte> buffer)
    {
        var result = await _receive.ReadAsync().ConfigureAwait(false);
        if (result.IsCanceled || _closing)
        {
            _receive.AdvanceTo(result.Buffer.Start);
            return 0;
        }

        var data = result.Buffer;
        var count = (int)Math.Min(data.Length, buffer.Length);
        data.Slice(0, count).CopyTo(buffer.Span);
        _receive.AdvanceTo(data.GetPosition(count));
        return count;
    }

    protected override async ValueTask SendAsync(ReadOnlyMemory<byte> buffer)
    {
        var flush = await _send.WriteAsync(buffer).ConfigureAwait(false);
        if (flush.IsCanceled || flush.IsCompleted)
        {
            throw new IOException("The in-process connection was closed.");
        }
    }

    protected override void ShutdownSend() => _send.Complete();

    protected override void CloseMedium()
    {
        _closing = true;
        _receive.CancelPendingRead();
        _send.CancelPendingFlush();
        // The peer's reader ends when this writer completes; a send still in progress completes it
        // at dispose instead (see the class remarks).
    }

    protected override ValueTask DisposeMediumAsync()
    {
        _send.Complete();
        _receive.Complete();
        return ValueTask.CompletedTask;
    }
}

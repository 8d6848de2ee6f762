using System.IO.Pipelines;
using Rpc.Transports.Protocol;

namespace Rpc.Server.Http;

/// <summary>
/// Kestrel's output on a sniffed connection, bounded by this side: our transports' output never
/// pauses (the Rpc protocol bounds itself with <see cref="OutputBacklog"/>), so for Kestrel a flush
/// waits while the unsent bytes are above the connection's high-water mark, as Kestrel's own socket
/// transport pauses at its <c>MaxResponseBufferSize</c>. Without it, an HTTP/2 client that grants
/// a large window and stops reading could make the server buffer up to that window.
/// </summary>
/// <remarks>Kestrel's one output writer at a time calls it, as with any PipeWriter.</remarks>
internal sealed class BoundedOutput(PipeWriter inner, OutputBacklog backlog) : PipeWriter
{
    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;

    public override void Advance(int bytes) => inner.Advance(bytes);

    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

    public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        backlog.Added(inner.UnflushedBytes);
        var result = await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (!result.IsCompleted && !result.IsCanceled)
        {
            await backlog.WaitForRoomAsync(cancellationToken).ConfigureAwait(false);
        }

        return result;
    }
}

using System.IO.Pipelines;

namespace Rpc.Transports.Internal;

/// <summary>
/// A connection's input read where the medium left the bytes, instead of copied into a pipe: the
/// connection's receive thread only waits for bytes and wakes the reader (<see cref="TransportConnection"/>).
/// </summary>
internal abstract class InPlaceInput : PipeReader
{
    /// <summary>
    /// Receive thread: waits until the medium has new bytes, then completes a read that waits for
    /// them, on this thread. False once the medium or the reader ended.
    /// </summary>
    public abstract bool WaitAndDeliver();

    /// <summary>
    /// Receive thread, once: the medium ended (<paramref name="error"/> null for a graceful end). The
    /// reader gets what is left, then the end or the error.
    /// </summary>
    public abstract void End(Exception? error);
}

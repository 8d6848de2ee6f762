using Grpc.Core;

namespace Rpc.Server.Http;

/// <summary>
/// One standard-gRPC call while its handler runs: what lets shutdown wait for it and, past the
/// shutdown timeout, end it with a status of the server's choosing.
/// </summary>
/// <remarks>
/// The handler's thread creates and disposes it; shutdown's thread may call <see cref="Abort"/> at
/// any time in between, which only cancels the token (thread-safe) and records the status first.
/// </remarks>
internal sealed class HttpCall : IDisposable
{
    private readonly CancellationTokenSource _cancelled;
    private readonly HttpCallTracker _tracker;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Boxed so the shutdown thread's write is seen whole by the handler's thread.
    private volatile object? _abortStatus;

    public HttpCall(HttpCallTracker tracker, CancellationToken requestCancelled)
    {
        _tracker = tracker;
        _cancelled = CancellationTokenSource.CreateLinkedTokenSource(requestCancelled);
    }

    /// <summary>The token the handler sees: the request's (client gone, deadline) or the server's shutdown.</summary>
    public CancellationToken Cancelled => _cancelled.Token;

    /// <summary>Set once shutdown has ended the call: the status the client is told.</summary>
    public Status? AbortStatus => _abortStatus is Status status ? status : null;

    /// <summary>Completes when the handler has returned.</summary>
    public Task Completion => _done.Task;

    public void Abort(Status status)
    {
        _abortStatus = status;
        try
        {
            _cancelled.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The handler returned meanwhile; nothing is left to end.
        }
    }

    public void Dispose()
    {
        _tracker.Remove(this);
        _cancelled.Dispose();
        _done.TrySetResult();
    }
}

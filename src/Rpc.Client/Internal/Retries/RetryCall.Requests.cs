using Grpc.Core;

namespace Rpc.Client.Internal.Retries;

// A retried call whose caller streams its requests (client-streaming, duplex): every message is
// kept, within the retry buffer, until the call commits, and a new attempt is sent them all again
// before it takes the caller's next one. The write gate orders the caller's writes and a replay:
// a message goes either into the attempt being replaced (and is replayed from the buffer) or, once
// the replay is over, into the new attempt; never both, never neither. The gate is held only for
// an attempt's writes, which end when that attempt ends (its deadline, token or dispose reset it).
internal sealed partial class RetryCall<TPayload, TResponse>
{
    // Both made by the constructor only for a streaming call: a unary call pays for neither.
    private readonly SemaphoreSlim? _writeGate;
    private List<TPayload>? _requests;
    private bool _requestsCompleted;

    /// <summary>
    /// Sends <paramref name="message"/> (<paramref name="size"/> bytes) on the current attempt and
    /// keeps it for a retry while it fits the call's and the channel's retry buffer; one that does
    /// not fit commits the call. A failed attempt that is retried takes the message along.
    /// </summary>
    public async Task WriteAsync(TPayload message, long size, long maxPerCall)
    {
        Attempt attempt;
        RpcException failure;
        await _writeGate!.WaitAsync().ConfigureAwait(false);
        try
        {
            lock (_lock)
            {
                if (_requests is { } requests)
                {
                    if (_bufferedBytes + size <= maxPerCall && _budget!.TryTake(size))
                    {
                        requests.Add(message);
                        _bufferedBytes += size;
                    }
                    else
                    {
                        CommitLocked();
                    }
                }

                attempt = _attempt;
            }

            try
            {
                await attempt.Call.WriteAsync(message).ConfigureAwait(false);
                return;
            }
            catch (RpcException ex)
            {
                failure = ex;
            }
        }
        finally
        {
            _writeGate!.Release();
        }

        // Outside the gate: a retry replays under it. A retried attempt was sent this message too.
        if (!await RetryAfterAsync(attempt, failure.Status, failure.Trailers).ConfigureAwait(false))
        {
            throw failure;
        }
    }

    /// <summary>Half-closes the current attempt; a retried attempt is half-closed after its replay.</summary>
    public async Task CompleteAsync()
    {
        Attempt attempt;
        await _writeGate!.WaitAsync().ConfigureAwait(false);
        try
        {
            lock (_lock)
            {
                _requestsCompleted = true;
                attempt = _attempt;
            }

            // A failed attempt's completion fails quietly or with its status; its reader decides about a retry.
            await attempt.Call.CompleteAsync().ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        finally
        {
            _writeGate!.Release();
        }
    }

    /// <summary>Starts the next attempt and sends it every message kept so far, under the write gate, then makes it current.</summary>
    private async Task<Attempt> StartStreamingAttemptAsync()
    {
        await _writeGate!.WaitAsync().ConfigureAwait(false);
        try
        {
            List<TPayload> replay;
            bool completed;
            lock (_lock)
            {
                // Nothing commits the call between the decision to retry and here but a dispose,
                // which leaves no reader to care; an empty replay then is harmless.
                replay = _requests is { } requests ? [.. requests] : [];
                completed = _requestsCompleted;
            }

            var next = StartAttempt();
            try
            {
                foreach (var message in replay)
                {
                    await next.Call.WriteAsync(message).ConfigureAwait(false);
                }

                if (completed)
                {
                    await next.Call.CompleteAsync().ConfigureAwait(false);
                }
            }
            catch (RpcException)
            {
                // The new attempt failed already; its reader sees that and decides again.
            }

            lock (_lock)
            {
                _attempt = next;
            }

            return next;
        }
        finally
        {
            _writeGate!.Release();
        }
    }
}

/// <summary>The caller's request stream of a retried call: serializes each message once and hands the bytes to the call.</summary>
internal sealed class RetryRequestWriter<TRequest, TResponse>(RetryCall<byte[], TResponse> call, Marshaller<TRequest> marshaller, RpcChannelOptions options)
    : IClientStreamWriter<TRequest>
    where TResponse : class
{
    public WriteOptions? WriteOptions { get; set; }

    public Task WriteAsync(TRequest message) => WriteAsync(message, CancellationToken.None);

    public async Task WriteAsync(TRequest message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        var serialized = Transports.Messages.MessageSerializer.Serialize(marshaller, message, options.MaxSendMessageSize, "client", "RpcChannelOptions.MaxSendMessageSize");
        byte[] bytes;
        try
        {
            bytes = serialized.Payload.ToArray();
        }
        finally
        {
            serialized.Release();
        }

        // The token ends the whole call, as it does a call without retries, and so its writes.
        using var registration = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static state => ((RetryCall<byte[], TResponse>)state!).Dispose(), call)
            : default;
        await call.WriteAsync(bytes, bytes.Length, options.MaxRetryBufferPerCallSize).ConfigureAwait(false);
    }

    public Task CompleteAsync() => call.CompleteAsync();
}

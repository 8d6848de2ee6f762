using System.Globalization;
using Grpc.Core;

namespace Rpc.Client.Internal.Retries;

/// <summary>
/// A call made of one or more attempts (<see cref="ClientCall{TRequest, TResponse}"/>), each
/// sending the same request, or under a policy the same request stream (RetryCall.Requests.cs). An attempt that fails before the call is committed is replaced:
/// at once and once per call when the server never saw it (<see cref="ClientCall{TRequest, TResponse}.Refused"/>:
/// refused by GOAWAY, or its connection closed before it went out), and, under a retry policy, after
/// a jittered exponential backoff when its status is retryable and attempts are left. The call
/// commits (no further attempt) once the caller has seen response headers or a response message,
/// or once an attempt's outcome is final.
/// </summary>
/// <remarks>
/// <para><typeparamref name="TPayload"/> is the request as each attempt sends it: the caller's
/// message when only a refused call may be retried, its serialized bytes under a policy (they count
/// against the channel's and the call's retry buffer until the call commits).</para>
/// <para>Threads: the caller's reader (response, MoveNext) and headers waiter may meet a failed
/// attempt at once; the decision about it is taken once, under <see cref="_lock"/>, and both await
/// the same outcome. The next attempt starts outside the lock (after the backoff, on a timer
/// thread); <see cref="_attempt"/> changes only under it.</para>
/// </remarks>
internal sealed partial class RetryCall<TPayload, TResponse> : IAsyncStreamReader<TResponse>, IClientCall
    where TPayload : class
    where TResponse : class
{
    internal const string PreviousAttemptsHeader = "grpc-previous-rpc-attempts";
    private const string PushbackTrailer = "grpc-retry-pushback-ms";

    private static readonly Task<bool> Retried = Task.FromResult(true);
    private static readonly Task<bool> Final = Task.FromResult(false);

    private readonly ConnectionManager _connections;
    private readonly RpcChannelOptions _channelOptions;
    private readonly Method<TPayload, TResponse> _method;
    private readonly CallOptions _options;
    // The single request, or null for a call whose requests stream (see RetryCall.Requests.cs).
    private readonly TPayload? _request;
    private readonly RetrySettings? _policy;
    private readonly RetryBudget? _budget;
    private long _bufferedBytes;
    private readonly Lock _lock = new();

    private Attempt _attempt = null!;
    private int _attemptsStarted;
    private int _policyAttempts;
    private bool _transparentRetried;
    private bool _committed;
    private TResponse _current = null!;
    private bool _disposed;
    private TimeSpan _backoff;
    private CancellationTokenSource? _backoffCancellation;

    /// <summary>A call of <paramref name="method"/> sending <paramref name="request"/>; <see cref="Start"/> sends the first attempt.</summary>
    /// <param name="connections">The channel's connections.</param>
    /// <param name="channelOptions">The channel's settings.</param>
    /// <param name="method">The method, its requests as each attempt sends them.</param>
    /// <param name="options">The caller's options; the deadline spans every attempt.</param>
    /// <param name="request">The request every attempt sends; null when the caller streams them (a policy call's bytes, kept as they are written).</param>
    /// <param name="policy">The method's retry policy; null retries only a call the server never saw.</param>
    /// <param name="budget">The channel's retry buffer <paramref name="bufferedBytes"/> were taken from; returned at commit.</param>
    /// <param name="bufferedBytes">The request bytes this call holds of <paramref name="budget"/>.</param>
    public RetryCall(ConnectionManager connections, RpcChannelOptions channelOptions, Method<TPayload, TResponse> method, CallOptions options,
        TPayload? request, RetrySettings? policy, RetryBudget? budget, long bufferedBytes)
    {
        _connections = connections;
        _channelOptions = channelOptions;
        _method = method;
        _options = options;
        _request = request;
        _policy = policy;
        _budget = budget;
        _bufferedBytes = bufferedBytes;
        _backoff = policy?.InitialBackoff ?? TimeSpan.Zero;
        if (request is null)
        {
            _requests = [];
            _writeGate = new SemaphoreSlim(1, 1);
        }
    }

    /// <summary>The response the last MoveNext read: once committed, the committed attempt's own.</summary>
    public TResponse Current => Volatile.Read(ref _committed) ? Volatile.Read(ref _attempt).Call.Current : _current;

    /// <summary>A blocking stub's call: each attempt's stream completes it on the read loop (see <see cref="ClientCall{TRequest, TResponse}.Blocking"/>).</summary>
    public bool Blocking { get; init; }

    public void Start()
    {
        _attempt = StartAttempt();
    }

    public async Task<TResponse> GetResponseAsync()
    {
        while (true)
        {
            var attempt = Volatile.Read(ref _attempt);
            RpcException failure;
            try
            {
                var response = await attempt.Call.GetResponseAsync().ConfigureAwait(false);
                Commit();
                return response;
            }
            catch (RpcException ex)
            {
                failure = ex;
            }

            if (!await RetryAfterAsync(attempt, failure.Status, failure.Trailers).ConfigureAwait(false))
            {
                throw failure;
            }
        }
    }

    public Task<bool> MoveNext(CancellationToken cancellationToken) =>
        // Committed, no failure is retried any more: the attempt's reader is the call's, one state
        // machine per message fewer (server streaming reads through here for every message).
        Volatile.Read(ref _committed) ? Volatile.Read(ref _attempt).Call.MoveNext(cancellationToken) : MoveNextRetryingAsync(cancellationToken);

    private async Task<bool> MoveNextRetryingAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var attempt = Volatile.Read(ref _attempt);
            RpcException failure;
            try
            {
                var more = await attempt.Call.MoveNext(cancellationToken).ConfigureAwait(false);
                if (more)
                {
                    _current = attempt.Call.Current;
                }

                Commit();

                return more;
            }
            catch (RpcException ex)
            {
                failure = ex;
            }

            if (!await RetryAfterAsync(attempt, failure.Status, failure.Trailers).ConfigureAwait(false))
            {
                throw failure;
            }
        }
    }

    public Task<Metadata> ResponseHeadersTask => GetResponseHeadersAsync();

    private async Task<Metadata> GetResponseHeadersAsync()
    {
        while (true)
        {
            var attempt = Volatile.Read(ref _attempt);
            RpcException failure;
            try
            {
                var headers = await attempt.Call.ResponseHeadersTask.ConfigureAwait(false);
                // A server that ends the call at once sends no headers of its own: the empty ones
                // come with its status, which decides, not the headers.
                if (attempt.Call.ServerTrailers is { Status.StatusCode: not StatusCode.OK } ended
                    && await RetryAfterAsync(attempt, ended.Status, ended.Trailers).ConfigureAwait(false))
                {
                    continue;
                }

                Commit();
                return headers;
            }
            catch (RpcException ex)
            {
                failure = ex;
            }

            if (!await RetryAfterAsync(attempt, failure.Status, failure.Trailers).ConfigureAwait(false))
            {
                throw failure;
            }
        }
    }

    public Status GetStatus() => Volatile.Read(ref _attempt).Call.GetStatus();

    public Metadata GetTrailers() => Volatile.Read(ref _attempt).Call.GetTrailers();

    public void Dispose()
    {
        Attempt attempt;
        CancellationTokenSource? backoff;
        lock (_lock)
        {
            _disposed = true;
            attempt = _attempt;
            backoff = _backoffCancellation;
        }

        try
        {
            backoff?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The backoff was over and its source disposed: nothing left to stop.
        }

        attempt.Call.Dispose();
        Commit();
    }

    private Attempt StartAttempt()
    {
        var options = _options;
        var previous = _attemptsStarted++;
        if (previous > 0)
        {
            var headers = new Metadata();
            if (_options.Headers is { } original)
            {
                foreach (var entry in original)
                {
                    headers.Add(entry);
                }
            }

            headers.Add(PreviousAttemptsHeader, previous.ToString(CultureInfo.InvariantCulture));
            options = _options.WithHeaders(headers);
        }

        var call = new ClientCall<TPayload, TResponse>(_connections, _channelOptions, _method, options) { Blocking = Blocking };
        call.Start(_request);
        return new Attempt(call);
    }

    /// <summary>
    /// Whether <paramref name="failed"/> is replaced by a new attempt (true once that has started),
    /// decided once per attempt however many of the caller's waits saw it fail.
    /// </summary>
    private Task<bool> RetryAfterAsync(Attempt failed, Status status, Metadata trailers)
    {
        lock (_lock)
        {
            if (_attempt != failed)
            {
                return Retried;
            }

            if (failed.Retry is { } decided)
            {
                return decided;
            }

            var delay = DecideLocked(failed, status, trailers);
            failed.Retry = delay is { } due ? StartNextAsync(failed, due) : Final;
            if (delay is null)
            {
                CommitLocked();
            }

            return failed.Retry;
        }
    }

    /// <summary>Under <see cref="_lock"/>: the wait before the next attempt, or null when there is none.</summary>
    private TimeSpan? DecideLocked(Attempt failed, Status status, Metadata trailers)
    {
        if (_committed || _disposed || _options.CancellationToken.IsCancellationRequested || DeadlinePassed())
        {
            return null;
        }

        if ((failed.Call.Refused || Refusals.IsGoAwayRefusal(status)) && !_transparentRetried)
        {
            // The server never saw it: sending it again cannot run it twice, and costs no attempt.
            _transparentRetried = true;
            return TimeSpan.Zero;
        }

        if (_policy is null || !_policy.IsRetryable(status.StatusCode) || _policyAttempts + 1 >= _policy.MaxAttempts)
        {
            return null;
        }

        TimeSpan delay;
        if (trailers.GetValue(PushbackTrailer) is { } pushback)
        {
            // The server's word wins; a negative or unreadable one means do not retry (gRFC A6).
            if (!int.TryParse(pushback, NumberStyles.None, CultureInfo.InvariantCulture, out var millis))
            {
                return null;
            }

            delay = TimeSpan.FromMilliseconds(millis);
            _backoff = _policy.InitialBackoff;
        }
        else
        {
            delay = _backoff * Random.Shared.NextDouble();
            _backoff = TimeSpan.FromTicks((long)Math.Min(_backoff.Ticks * _policy.BackoffMultiplier, _policy.MaxBackoff.Ticks));
        }

        _policyAttempts++;
        return delay;
    }

    private bool DeadlinePassed() =>
        _options.Deadline is { } deadline && deadline != DateTime.MaxValue && deadline.ToUniversalTime() <= DateTime.UtcNow;

    /// <summary>Waits out <paramref name="delay"/> (never past the deadline; the token or dispose end it sooner), then starts the next attempt.</summary>
    private async Task<bool> StartNextAsync(Attempt failed, TimeSpan delay)
    {
        // Off the caller's lock before anything else happens.
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        var untilDeadline = false;
        if (_options.Deadline is { } deadline && deadline != DateTime.MaxValue)
        {
            var left = deadline.ToUniversalTime() - DateTime.UtcNow;
            untilDeadline = left < delay;
            delay = untilDeadline ? left : delay;
        }

        while (delay > TimeSpan.Zero)
        {
            CancellationTokenSource backoff;
            lock (_lock)
            {
                if (_disposed)
                {
                    return false;
                }

                backoff = _backoffCancellation ??= CancellationTokenSource.CreateLinkedTokenSource(_options.CancellationToken);
            }

            // Ends early on the caller's token or dispose; the next attempt then fails at once with
            // the status that says why (Cancelled, DeadlineExceeded), as a first attempt would.
            await Task.Delay(delay, backoff.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            lock (_lock)
            {
                _backoffCancellation = null;
            }

            // Unregisters from the caller's token; a Dispose racing here finds it disposed and skips it.
            backoff.Dispose();

            // A timer may fire a little before the wall clock reaches the deadline; the next attempt
            // must find it passed, so that the call ends DeadlineExceeded and does not run again.
            delay = untilDeadline && !backoff.IsCancellationRequested && !_disposed
                ? _options.Deadline!.Value.ToUniversalTime() - DateTime.UtcNow
                : TimeSpan.Zero;
        }

        Attempt next;
        if (_request is null)
        {
            next = await StartStreamingAttemptAsync().ConfigureAwait(false);
        }
        else
        {
            next = StartAttempt();
            lock (_lock)
            {
                _attempt = next;
            }
        }

        bool disposed;
        lock (_lock)
        {
            disposed = _disposed;
        }

        failed.Call.Dispose();
        if (disposed)
        {
            next.Call.Dispose();
        }

        return true;
    }

    private void Commit()
    {
        lock (_lock)
        {
            CommitLocked();
        }
    }

    private void CommitLocked()
    {
        if (_committed)
        {
            return;
        }

        _committed = true;
        _budget?.Return(_bufferedBytes);
        _bufferedBytes = 0;
        // The messages kept for a replay are no longer needed; a replay under way holds its own list.
        _requests = null;
    }

    /// <summary>One attempt and, once it failed, the decision about it.</summary>
    private sealed class Attempt(ClientCall<TPayload, TResponse> call)
    {
        public ClientCall<TPayload, TResponse> Call { get; } = call;

        public Task<bool>? Retry { get; set; }
    }
}

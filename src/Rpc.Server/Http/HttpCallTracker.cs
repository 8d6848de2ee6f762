using Grpc.Core;

namespace Rpc.Server.Http;

/// <summary>The standard-gRPC calls whose handlers are running, for shutdown to wait on or end.</summary>
internal sealed class HttpCallTracker
{
    private readonly HashSet<HttpCall> _calls = [];
    private readonly Lock _lock = new();

    public HttpCall Begin(CancellationToken requestCancelled)
    {
        var call = new HttpCall(this, requestCancelled);
        lock (_lock)
        {
            _calls.Add(call);
        }

        return call;
    }

    public void Remove(HttpCall call)
    {
        lock (_lock)
        {
            _calls.Remove(call);
        }
    }

    public List<HttpCall> Snapshot()
    {
        lock (_lock)
        {
            return [.. _calls];
        }
    }

    public Task Drained => Task.WhenAll(Snapshot().Select(c => c.Completion));

    public async Task AbortAsync(Status status, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var calls = Snapshot();
        foreach (var call in calls)
        {
            call.Abort(status);
        }

        await Task.WhenAll(calls.Select(c => c.Completion)).WaitAsync(timeout, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}

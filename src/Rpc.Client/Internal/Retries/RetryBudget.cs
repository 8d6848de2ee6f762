namespace Rpc.Client.Internal.Retries;

/// <summary>
/// The channel-wide bound on request bytes kept for retries (<see cref="RpcChannelOptions.MaxRetryBufferSize"/>).
/// Any thread takes and returns bytes; one interlocked counter, never above the bound.
/// </summary>
internal sealed class RetryBudget(long limit)
{
    private long _used;

    /// <summary>Takes <paramref name="bytes"/> when they fit under the bound; false leaves nothing taken.</summary>
    public bool TryTake(long bytes)
    {
        while (true)
        {
            var used = Volatile.Read(ref _used);
            if (used + bytes > limit)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _used, used + bytes, used) == used)
            {
                return true;
            }
        }
    }

    public void Return(long bytes) => Interlocked.Add(ref _used, -bytes);
}

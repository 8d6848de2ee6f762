using Rpc.Client;

namespace Rpc.Tests.Infrastructure;

/// <summary>
/// Disposes channels with a deadline: a dispose that hangs (a peer that stopped reading) fails the
/// test that waited for it instead of holding the test run.
/// </summary>
public static class BoundedDispose
{
    public static readonly TimeSpan DefaultBound = TimeSpan.FromSeconds(15);

    public static async Task DisposeWithinAsync(this RpcChannel channel, TimeSpan? bound = null)
    {
        var limit = bound ?? DefaultBound;
        var dispose = channel.DisposeAsync().AsTask();
        if (await Task.WhenAny(dispose, Task.Delay(limit)) != dispose)
        {
            throw new TimeoutException($"Disposing the channel took longer than {limit}.");
        }

        await dispose;
    }
}

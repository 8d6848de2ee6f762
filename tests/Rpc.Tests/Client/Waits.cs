using Rpc.Tests.Infrastructure;

namespace Rpc.Tests.Client;

/// <summary>Bounded waits for conditions that other threads make true.</summary>
internal static class Waits
{
    /// <summary>Polls <paramref name="condition"/> until it holds; fails after the default test timeout.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        using var timeout = new CancellationTokenSource(Rpc.Tests.Infrastructure.TaskExtensions.DefaultTimeoutSpan);
        while (!condition())
        {
            if (timeout.IsCancellationRequested)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(10);
        }
    }
}
